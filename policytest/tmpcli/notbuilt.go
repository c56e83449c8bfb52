package main

import "fmt"

// errNotBuilt is returned by subcommands that are not built yet.
func errNotBuilt(name string) error { return fmt.Errorf("%s: not built yet", name) }
