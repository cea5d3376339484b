// Package kvpb holds the generated protobuf and gRPC code of kvnode's API.
// kvnode.proto is the source; regenerate with `go generate ./kvnode/kvpb`
// (needs protoc, Debian's protobuf-compiler).
package kvpb

//go:generate go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//go:generate go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative kvnode.proto
