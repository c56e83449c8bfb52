package controlplane

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentFoldsShareSafely: goroutines clone one shared state and
// fold the same calls into their clones at once, as parallel simulator
// trials do (sharing the decoded-arguments cache and the base state's
// tables); every clone ends with the same digest, and the base is
// unchanged. Run under -race to check the sharing.
func TestConcurrentFoldsShareSafely(t *testing.T) {
	base := NewState()
	base.Apply(Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	for i := 0; i < 100; i++ {
		base.Apply(Call{Action: "iam:CreateUser", Args: json.RawMessage(fmt.Sprintf(`{"user_name":"base%d"}`, i))})
	}
	want := base.Digest()
	const workers = 8
	digests := make([][32]byte, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := base.Clone()
			for i := 0; i < 200; i++ {
				s.Apply(Call{Action: "iam:CreateUser", Args: json.RawMessage(fmt.Sprintf(`{"user_name":"u%d"}`, i))})
				if i%50 == 0 {
					s = s.Clone()
				}
			}
			digests[w] = s.Digest()
		}()
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if digests[w] != digests[0] {
			t.Fatalf("worker %d folded to another digest", w)
		}
	}
	if base.Digest() != want || base.Counts().Users != 100 {
		t.Fatalf("the shared base changed: %d users", base.Counts().Users)
	}
}
