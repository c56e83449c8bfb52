package sim_test

import (
	"bytes"
	"flag"
)

// seedFlag reruns one seed of a randomized test, with its trace.
var seedFlag = flag.Uint64("seed", 0, "rerun only this seed of the randomized tests, printing its trace")

type traceBuf struct{ bytes.Buffer }
