// Package sitebuild writes the browser playground as a self-contained
// static site: the page (package playground's Site), the WebAssembly module
// built from cmd/playground-wasm with the go tool, the go tool's own
// wasm_exec.js, which must match the compiler that built the module, and
// playground-disk.js, both again for a page opened from disk (file://),
// where the browser fetches no module and starts no worker from a file.
//
// The module is built when the site is written rather than embedded in the
// scenario binary: a committed .wasm would be a large generated file that
// goes stale the moment the simulator changes, while the go tool (all a
// fresh machine needs to build iamprop) builds it from the same source in
// seconds.
package sitebuild

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/iamprop/iamprop/internal/playground"
)

// wasmPackage is the playground's WebAssembly main.
const wasmPackage = "github.com/iamprop/iamprop/cmd/playground-wasm"

// Write writes the site into dir (created if missing) and returns the files
// it wrote, relative to dir. goTool is the go command to build with ("" for
// "go" on PATH); it runs in the current directory, which must be inside a
// checkout of iamprop (or a module that requires it).
func Write(ctx context.Context, dir, goTool string) ([]string, error) {
	if goTool == "" {
		goTool = "go"
	}
	if _, err := exec.LookPath(goTool); err != nil {
		return nil, fmt.Errorf("the playground's WebAssembly module is built with the go tool, and %q is not on PATH: install Go (https://go.dev/dl/) and run this in a checkout of iamprop", goTool)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var wrote []string
	site := playground.Site()
	err := fs.WalkDir(site, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(site, p)
		if err != nil {
			return err
		}
		wrote = append(wrote, p)
		return os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), b, 0o644)
	})
	if err != nil {
		return nil, err
	}
	// -s -w: no symbol table or DWARF, which no browser reads (0.2 MB).
	build := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "playground.wasm"), wasmPackage)
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the playground's WebAssembly module (GOOS=js GOARCH=wasm %s build %s; run it in a checkout of iamprop): %v\n%s", goTool, wasmPackage, err, out)
	}
	wrote = append(wrote, "playground.wasm")
	js, err := wasmExec(ctx, goTool)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), js, 0o644); err != nil {
		return nil, err
	}
	wrote = append(wrote, "wasm_exec.js")
	lib, err := libraryJSON()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, LibraryFile), lib, 0o644); err != nil {
		return nil, err
	}
	wrote = append(wrote, LibraryFile)
	disk, err := diskScript(dir, js, lib)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, DiskScript), disk, 0o644); err != nil {
		return nil, err
	}
	return append(wrote, DiskScript), nil
}

// LibraryFile is the library's list as the module's library() gives it
// (playground.Library, in JSON): the page reads it while the module
// compiles rather than wait for the module to parse every scenario, on
// the way to a run the URL asks for.
const LibraryFile = "library.json"

func libraryJSON() ([]byte, error) {
	lib, err := playground.Library()
	if err != nil {
		return nil, err
	}
	return json.Marshal(lib)
}

// DiskScript is the file the page loads with a script tag when it is
// opened from disk: it sets self.iampropDisk to the worker's source
// (wasm_exec.js, then worker.js), the module in base64 and the library
// (LibraryFile's content). A browser loads
// a script from a file:// page, but refuses its fetch of the module and a
// worker started from a file; the page starts the worker from a Blob of
// that source and compiles the module from the decoded bytes instead.
const DiskScript = "playground-disk.js"

func diskScript(dir string, wasmExec, library []byte) ([]byte, error) {
	module, err := os.ReadFile(filepath.Join(dir, "playground.wasm"))
	if err != nil {
		return nil, err
	}
	worker, err := fs.ReadFile(playground.Site(), "worker.js")
	if err != nil {
		return nil, err
	}
	src, err := json.Marshal(string(wasmExec) + "\n" + string(worker))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("// Written by `scenario playground` for a page opened from disk (file://):\n")
	b.WriteString("// the worker's source, playground.wasm in base64 and the library. Over HTTP the page\n")
	b.WriteString("// does not load it.\n")
	b.WriteString("self.iampropDisk = {\nworker: ")
	b.Write(src)
	b.WriteString(",\nlibrary: ")
	b.Write(library)
	b.WriteString(",\nwasm: \"")
	b.WriteString(base64.StdEncoding.EncodeToString(module))
	b.WriteString("\"\n};\n")
	return []byte(b.String()), nil
}

// wasmExec reads the go tool's wasm_exec.js: lib/wasm since Go 1.24,
// misc/wasm before.
func wasmExec(ctx context.Context, goTool string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, goTool, "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	for _, p := range []string{filepath.Join(root, "lib", "wasm", "wasm_exec.js"), filepath.Join(root, "misc", "wasm", "wasm_exec.js")} {
		b, err := os.ReadFile(p)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no wasm_exec.js under %s (lib/wasm or misc/wasm)", root)
}
