package main

import (
	"fmt"

	"github.com/docker/go-units"
)

// byteSize is a flag holding a number of bytes, written with binary units:
// 512MiB, 2GiB, 4g.
type byteSize struct{ n *int64 }

func (b byteSize) String() string {
	if b.n == nil {
		return "0"
	}
	return units.BytesSize(float64(*b.n))
}

func (b byteSize) Set(s string) error {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return fmt.Errorf("%q is not a size such as 512MiB or 2GiB: %w", s, err)
	}
	*b.n = n
	return nil
}

func (byteSize) Type() string { return "size" }
