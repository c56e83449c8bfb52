package main

import "testing"

// Bad flags are refused before anything is built or started.
func TestChaosRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"chaos", "--nodes", "2"}, "--nodes 2: need at least 3"},
		{[]string{"chaos", "--nodes", "40"}, "--nodes 40: at most 16"},
		{[]string{"chaos", "--duration", "200ms"}, "--duration 200ms: at least 1s"},
		{[]string{"chaos", "--schedules", "0"}, "--schedules 0: at least 1"},
		{[]string{"chaos", "--replay", "x"}, "invalid argument"},
	}
	for _, tt := range tests {
		expectRun(t, tt.args, 2, nil, []string{tt.want})
	}
}
