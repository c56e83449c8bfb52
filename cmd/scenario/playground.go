package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/internal/playground/sitebuild"
)

func newPlaygroundCmd() *cobra.Command {
	var out, addr string
	var serve bool
	cmd := &cobra.Command{
		Use:   "playground",
		Short: "Write (or serve) the browser playground: the simulator as a static web page",
		Long: `playground writes a self-contained static site: index.html, the simulator built
as WebAssembly (playground.wasm), the go tool's wasm_exec.js, the page's
JavaScript and the library's scenarios (library.json; and
playground-disk.js, the same module, worker and library for a page opened
from disk). Everything runs in the browser, one Web Worker per core;
the page requests nothing from any other host, so any static file host (or
--serve) can publish it, or a learner can open DIR/index.html from disk.

The WebAssembly module is built now, with the go tool, from the source of
the checkout this runs in (see docs/playground.md for why).

The URL fragment #scenario=NAME&seed=S&trials=N runs that library scenario
at once and puts its report (the document 'scenario run NAME --seed S
--trials N --json' prints) in the element with id report-json.`,
		Example: `  scenario playground --out site
  scenario playground --serve
  scenario playground --serve --addr 127.0.0.1:8090   # then open http://127.0.0.1:8090/#scenario=public-s3-bucket&trials=100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" && !serve {
				return invalidInput(errors.New("give --out DIR to write the site, or --serve to serve it"))
			}
			dir := out
			if dir == "" {
				tmp, err := os.MkdirTemp("", "iamprop-playground-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			files, err := sitebuild.Write(cmd.Context(), dir, "")
			if err != nil {
				return invalidInput(err)
			}
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files to %s\n", len(files), out)
			}
			if !serve {
				return nil
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return invalidInput(fmt.Errorf("--addr: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving the playground on http://%s/ (Ctrl-C stops)\n", ln.Addr())
			srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "", "write the site into this directory")
	fl.BoolVar(&serve, "serve", false, "serve the site over HTTP (from --out, or a temporary directory)")
	fl.StringVar(&addr, "addr", "127.0.0.1:8090", "with --serve: the address to listen on (loopback by default)")
	return cmd
}
