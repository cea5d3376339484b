package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/quorumlab/quorumlab/results"
)

func serveCmd(stdout io.Writer) *cobra.Command {
	var store, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Browse the stored runs and comparisons over HTTP",
		Long: `Serve the run store over HTTP: an index of runs and comparisons (test, time,
configuration, verdict, links to their reports) at /, and every file in the
store below it. Nothing outside the store is served. Stops on Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := results.NewServer(store)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				hs.Shutdown(ctx)
			}()
			fmt.Fprintf(stdout, "serving %s at http://%s/\n", store, ln.Addr())
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve: %w", err)
			}
			<-stopped
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", "store", "root directory of stored runs")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	return cmd
}
