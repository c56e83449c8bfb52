package sim

// CPUSeconds is cpuSeconds for the external test package's benchmarks.
var CPUSeconds = cpuSeconds
