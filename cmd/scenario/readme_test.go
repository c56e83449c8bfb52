package main

import (
	"os"
	"strings"
	"testing"
)

// The README shows what its main command prints: the sample must be that
// output, byte for byte, or a change to the runner leaves it stale.
func TestReadmeSampleIsTheMainCommandsOutput(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const head = "public-s3-bucket: A public bucket stays readable after it was made private\n"
	text := string(readme)
	start := strings.Index(text, head)
	if start < 0 {
		t.Fatal("the README has no sample output of scenario run scenarios/public-s3-bucket.yaml")
	}
	end := strings.Index(text[start:], "```")
	if end < 0 {
		t.Fatal("the README's sample output is not closed by ```")
	}
	sample := text[start : start+end]
	code, out, errOut := runCLI("run", "../../scenarios/public-s3-bucket.yaml")
	if code != 0 {
		t.Fatalf("scenario run: exit %d: %s", code, errOut)
	}
	if out != sample {
		t.Errorf("the README's sample differs from what the command prints now; replace it with:\n%s", out)
	}
}
