package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Library holds the scenario library (scenarios/*.yaml), embedded so the
// scenario command works from any directory and in a bare container.
//
//go:embed *.yaml
var Library embed.FS

// LibraryNames lists the library's scenarios by name (file name without
// .yaml), sorted.
func LibraryNames() ([]string, error) {
	entries, err := fs.ReadDir(Library, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	sort.Strings(names)
	return names, nil
}

// LoadLibrary loads a library scenario by name ("public-s3-bucket"; a
// trailing ".yaml" is accepted). Its File is "scenarios/NAME.yaml", the
// path of its source in the repository, so errors point somewhere real.
func LoadLibrary(name string) (*Scenario, error) {
	name = strings.TrimSuffix(name, ".yaml")
	names, err := LibraryNames()
	if err != nil {
		return nil, err
	}
	i := sort.SearchStrings(names, name)
	if i == len(names) || names[i] != name {
		return nil, fmt.Errorf("no scenario %q in the library; `scenario list` shows them all%s", name, suggest(name, names))
	}
	data, err := fs.ReadFile(Library, name+".yaml")
	if err != nil {
		return nil, err
	}
	read := func(rel string) ([]byte, string, error) {
		p := path.Clean(rel)
		b, err := fs.ReadFile(Library, p)
		return b, path.Join("scenarios", p), err
	}
	return parse(path.Join("scenarios", name+".yaml"), data, read)
}

// Summary is a library scenario's name and title, for listings.
type Summary struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// List loads every library scenario and returns their names and titles,
// sorted by name. An invalid library file is an error (tests keep the
// library valid; this is the last line of defence).
func List() ([]Summary, error) {
	names, err := LibraryNames()
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(names))
	for _, n := range names {
		sc, err := LoadLibrary(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Summary{Name: sc.Name, Title: sc.Title})
	}
	return out, nil
}
