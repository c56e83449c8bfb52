package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
)

// A read answers from the published view without the node's lock: a
// commit signing, folding or writing its log never holds up an answer.
func TestAuthorizeDoesNotWaitForTheNodesLock(t *testing.T) {
	c := startCluster(t, []string{"eu-west-1"}, ClusterOptions{})
	n := c.Node("eu-west-1")
	if _, err := c.Commit("eu-west-1", createUser("alice")); err != nil {
		t.Fatal(err)
	}
	probe := controlplane.Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
	n.mu.Lock()
	answered := make(chan error, 1)
	go func() {
		d, err := n.Authorize(context.Background(), probe, Consistency{Mode: ModeLocal})
		if err == nil && !d.Authenticated {
			err = errors.New("alice is not authenticated: the answer came from a view without her")
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		n.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		n.mu.Unlock()
		<-answered
		t.Fatal("a local read waited for the node's lock (held by the test)")
	}
}

// Every answer comes from one view: its decision, digest and vector are
// that view's, however commits interleave with the reads. A policy is
// attached to and detached from alice by turns; an answer whose vector
// says the last toggle applied was an attach must allow, a detach deny,
// and one vector always comes with one digest.
func TestAnswersNeverMixTwoViews(t *testing.T) {
	const region = "eu-west-1"
	c := startCluster(t, []string{region}, ClusterOptions{})
	n := c.Node(region)
	setup := []controlplane.Call{
		createUser("alice"),
		{Action: "iam:CreatePolicy", Account: acct, Args: json.RawMessage(`{"policy_name":"read","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}}`)},
	}
	for _, call := range setup {
		if _, err := c.Commit(region, call); err != nil {
			t.Fatal(err)
		}
	}
	toggle := [2]controlplane.Call{
		{Action: "iam:AttachUserPolicy", Account: acct, Args: json.RawMessage(`{"user_name":"alice","policy_arn":"arn:aws:iam::` + acct + `:policy/read"}`)},
		{Action: "iam:DetachUserPolicy", Account: acct, Args: json.RawMessage(`{"user_name":"alice","policy_arn":"arn:aws:iam::` + acct + `:policy/read"}`)},
	}
	probe := controlplane.Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}

	type answer struct {
		seq    uint64
		effect string
		digest string
	}
	var answers []answer
	r := startReaders(n, probe, func(_ time.Time, d Decision) {
		var seq uint64
		for _, v := range d.Vector {
			seq += v
		}
		answers = append(answers, answer{seq, d.Effect, d.Digest})
	})
	attachedAfter := map[uint64]bool{} // a toggle's seq: attached after it
	var first uint64
	for i := range 200 {
		m, err := c.Commit(region, toggle[i%2])
		if err != nil {
			r.stop(t)
			t.Fatal(err)
		}
		if i == 0 {
			first = m.ID.Seq
		}
		attachedAfter[m.ID.Seq] = i%2 == 0
		r.letAnswer(t)
	}
	r.stop(t)

	digests := map[uint64]string{}
	checked := 0
	for _, a := range answers {
		if d, ok := digests[a.seq]; ok && d != a.digest {
			t.Fatalf("two digests for the view at %d: %s and %s", a.seq, d, a.digest)
		}
		digests[a.seq] = a.digest
		want := "ImplicitDeny"
		if a.seq >= first && attachedAfter[a.seq] {
			want = "Allow"
		}
		if a.effect != want {
			t.Fatalf("the answer from the view at %d is %s, want %s", a.seq, a.effect, want)
		}
		checked++
	}
	if checked < 400 {
		t.Fatalf("only %d answers during 200 commits", checked)
	}
}

// A read issued after the instant a region says a mutation took effect
// there is answered from a view that holds it: the instant of the commit
// in its own region (its timestamp, where the runner changes the truth),
// the instant of the apply in a peer's (its Status, which the runner
// measures exposure windows to), also when the apply waited for a delay
// and the node's timer woke late. The section that reads the clock
// publishes its view before a read that began after can take one, and an
// apply is reported at the instant its section ran, not when it was due.
func TestReadsIssuedAfterAnApplySeeIt(t *testing.T) {
	for _, tc := range []struct {
		name, commitIn, readIn string
		commits                int
		delay                  time.Duration
	}{
		{"own commit", "eu-west-1", "eu-west-1", 200, 0},
		{"peer's commit", "us-east-2", "eu-west-1", 30, 0},
		// Applied on the node's timer, which wakes late.
		{"peer's commit, delayed", "us-east-2", "eu-west-1", 30, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regions := []string{tc.commitIn}
			if tc.readIn != tc.commitIn {
				regions = append(regions, tc.readIn)
			}
			opts := ClusterOptions{Tune: fastTune}
			if tc.delay > 0 {
				opts.Delay = constantDelay(t, tc.delay)
			}
			c := startCluster(t, regions, opts)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.WaitMembers(ctx, len(regions)); err != nil {
				t.Fatal(err)
			}
			reader := c.Node(tc.readIn)
			probe := controlplane.Probe{Principal: "user:nobody", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}

			type answer struct {
				issued time.Time
				seq    uint64
			}
			var answers []answer
			r := startReaders(reader, probe, func(issued time.Time, d Decision) {
				var seq uint64
				for o, v := range d.Vector {
					if strings.HasPrefix(o, tc.commitIn) {
						seq += v
					}
				}
				answers = append(answers, answer{issued, seq})
			})
			type apply struct {
				at  time.Time
				seq uint64
			}
			var applies []apply
			for i := range tc.commits {
				m, err := c.Commit(tc.commitIn, createUser(fmt.Sprintf("u%d", i)))
				if err == nil {
					err = c.WaitApplied(ctx, m.ID)
				}
				at := m.TS.Time()
				if err == nil && tc.readIn != tc.commitIn {
					var st MutationStatus
					st, err = reader.Status(m.ID)
					if at = st.Applied[tc.readIn]; err == nil && at.IsZero() {
						err = fmt.Errorf("%s is applied in %s, and its status there gives no instant", m.ID, tc.readIn)
					}
				}
				if err != nil {
					r.stop(t)
					t.Fatal(err)
				}
				applies = append(applies, apply{at, m.ID.Seq})
				r.letAnswer(t)
			}
			r.stop(t)

			// applies is in order of instant and of seq: a read must hold
			// the last mutation in force before it was issued.
			late := 0
			for _, a := range answers {
				k := sort.Search(len(applies), func(k int) bool { return !a.issued.After(applies[k].at) }) - 1
				if k >= 0 && a.seq < applies[k].seq {
					if late == 0 {
						t.Errorf("a read issued %v after mutation %d took effect in %s was answered from the view at %d, without it", a.issued.Sub(applies[k].at), applies[k].seq, tc.readIn, a.seq)
					}
					late++
				}
			}
			if late > 0 {
				t.Errorf("%d of %d reads were answered without a mutation in force when they were issued", late, len(answers))
			}
		})
	}
}

// An answer says what its view holds above its vector's prefixes: a view
// applies what arrives, so past a gap (a lost id until its filler
// settles) it holds later ids the vector does not count. Once the gap
// fills, the answer says nothing more.
func TestAnswerSaysWhatItsViewHoldsAboveThePrefix(t *testing.T) {
	const region = "eu-west-1"
	c := startCluster(t, []string{region}, ClusterOptions{})
	n := c.Node(region)
	probe := controlplane.Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
	from := func(seq uint64, user string) replication.Message {
		m := replication.Mutation{ID: replication.MutationID{Origin: "us-east-2", Seq: seq},
			TS: replication.Timestamp{Wall: time.Now().UnixNano()}, Call: createUser(user)}
		return replication.Message{Kind: replication.KindGossip, From: "us-east-2", Mutations: []replication.Mutation{m}}
	}
	steps := []struct {
		send   []replication.Message
		vector uint64
		above  map[string][][2]uint64
	}{
		{[]replication.Message{from(1, "a"), from(3, "c"), from(4, "d")}, 1, map[string][][2]uint64{"us-east-2": {{3, 4}}}},
		{[]replication.Message{from(2, "b")}, 4, nil},
	}
	for i, st := range steps {
		for _, m := range st.send {
			n.inbox <- m
		}
		within(t, 10*time.Second, fmt.Sprintf("step %d applied", i), func(ctx context.Context) error {
			return poll(ctx, func() bool {
				d, err := n.Authorize(ctx, probe, Consistency{Mode: ModeLocal})
				return err == nil && d.Vector["us-east-2"] == st.vector && len(d.Above) == len(st.above)
			})
		})
		d, err := n.Authorize(context.Background(), probe, Consistency{Mode: ModeLocal})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(d.Above) != fmt.Sprint(st.above) || d.AboveTruncated {
			t.Errorf("step %d: vector %v, above %v (truncated %v); want above %v", i, d.Vector, d.Above, d.AboveTruncated, st.above)
		}
		// GET /v1/view names the same view the same way.
		if v := n.View(); v.Vector["us-east-2"] != st.vector || fmt.Sprint(v.Above) != fmt.Sprint(st.above) || v.AboveTruncated {
			t.Errorf("step %d: /v1/view has vector %v, above %v (truncated %v); want %d and %v", i, v.Vector, v.Above, v.AboveTruncated, st.vector, st.above)
		}
	}
}

// readers is four goroutines reading one probe from a node as fast as
// they can, beside a test's commits.
type readers struct {
	wg    sync.WaitGroup
	done  chan struct{}
	count atomic.Int64
	mu    sync.Mutex
	err   error
}

// startReaders starts the readers; record gets each answer with the
// instant its request was issued, one at a time.
func startReaders(n *Node, probe controlplane.Probe, record func(issued time.Time, d Decision)) *readers {
	r := &readers{done: make(chan struct{})}
	for range 4 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				select {
				case <-r.done:
					return
				default:
				}
				issued := time.Now()
				d, err := n.Authorize(context.Background(), probe, Consistency{Mode: ModeLocal})
				r.mu.Lock()
				if err != nil {
					r.err = err
					r.mu.Unlock()
					return
				}
				record(issued, d)
				r.mu.Unlock()
				r.count.Add(1)
			}
		}()
	}
	return r
}

// letAnswer waits until the readers have answered twice more, however the
// scheduler runs them: a commit takes microseconds, and the reads must
// fall between commits too.
func (r *readers) letAnswer(t *testing.T) {
	t.Helper()
	for want, deadline := r.count.Load()+2, time.Now().Add(10*time.Second); r.count.Load() < want; {
		if time.Now().After(deadline) {
			r.stop(t)
			t.Fatal("the readers answered nothing for 10 s")
		}
		runtime.Gosched()
	}
}

// stop stops the readers and fails the test if one of them failed to read.
func (r *readers) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		return
	default:
	}
	close(r.done)
	r.wg.Wait()
	if r.err != nil {
		t.Errorf("a reader failed: %v", r.err)
	}
}
