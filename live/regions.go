package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/iamprop/iamprop/propagation"
	"github.com/iamprop/iamprop/replication"
)

// RegionsFile is the file in the data directory that remembers every
// region this node has seen alive, so that after a restart a region that is
// down still counts as a region of the cluster.
const RegionsFile = "regions.json"

// Errors of RemoveMember.
var (
	// ErrNoSuchMember: the region is not a member this node knows.
	ErrNoSuchMember = errors.New("live: no such member")
	// ErrMemberAlive: the region is alive or suspect (or is this node);
	// only a region that is down can be removed.
	ErrMemberAlive = errors.New("live: member is not down")
)

// regionsDoc is the RegionsFile's content.
type regionsDoc struct {
	Regions []string `json:"regions"`
}

// loadRegions reads the remembered regions of dir; a missing file is an
// empty set.
func loadRegions(dir string) (map[string]struct{}, error) {
	path := filepath.Join(dir, RegionsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]struct{}{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var doc regionsDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); it lists the regions this node has seen: fix it, or delete it to start from the regions in touch now", path, err)
	}
	out := make(map[string]struct{}, len(doc.Regions))
	for _, r := range doc.Regions {
		if err := validRegion(r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[r] = struct{}{}
	}
	return out, nil
}

// saveRegions replaces the remembered regions atomically: a crash leaves
// either the old file or the new one, never a torn one (temp file, fsync,
// rename, fsync of the directory so the rename itself is durable).
func saveRegions(dir string, regions map[string]struct{}) error {
	doc := regionsDoc{Regions: make([]string, 0, len(regions))}
	for r := range regions {
		doc.Regions = append(doc.Regions, r)
	}
	slices.Sort(doc.Regions)
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, RegionsFile+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, RegionsFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// rememberAlive adds the members seen alive to the remembered regions and
// persists the set when it grew. Only a sign of life adds a region: a dead
// entry relayed about a region an operator removed must not bring it back.
func (n *Node) rememberAlive() {
	n.peersMu.RLock()
	var seen []string
	for region, mb := range n.members {
		if mb.state == propagation.Alive || mb.state == propagation.Suspect {
			seen = append(seen, region)
		}
	}
	n.peersMu.RUnlock()
	n.regMu.Lock()
	defer n.regMu.Unlock()
	grew := false
	for _, r := range seen {
		if _, ok := n.known[r]; !ok {
			n.known[r] = struct{}{}
			grew = true
		}
	}
	if grew {
		n.persistRegions()
	}
}

// persistRegions writes the remembered regions (caller holds regMu). A
// failure is logged, not fatal: the set in memory stays right, and the next
// change retries the write.
func (n *Node) persistRegions() {
	if n.cfg.DataDir == "" {
		return
	}
	if err := saveRegions(n.cfg.DataDir, n.known); err != nil {
		n.log.Error().Err(err).Str("file", filepath.Join(n.cfg.DataDir, RegionsFile)).Msg("could not persist the cluster's regions")
	}
}

// mlListed returns the members memberlist lists now: those its failure
// detector has not declared dead and that have not left, suspect ones
// included. (memberlist v0.7.0 never fills Node.State, neither here nor in
// its event callbacks, so suspicion, and a leave as opposed to a failure,
// cannot be told apart through its API.)
func (n *Node) mlListed() map[string]bool {
	out := map[string]bool{}
	for _, nd := range n.ml.Members() {
		out[nd.Name] = true
	}
	return out
}

// RemoveMember takes a region that is down out of the cluster as this node
// sees it: it no longer counts in "every region" of a mutation's status,
// is no longer listed, and is no longer redialled. It is an operator's
// decision (the region is gone for good), never inferred from a failure or
// a graceful leave. A region that comes back alive is a member again. It
// no longer counts in the max_lag bound either
// (replication.Node.ForgetRegion).
func (n *Node) RemoveMember(region string) error {
	if err := n.removeMember(region); err != nil {
		return err
	}
	n.lockChange()
	n.rn.ForgetRegion(region)
	n.refreshView(false)
	n.mu.Unlock()
	return nil
}

// removeMember is RemoveMember's membership part.
func (n *Node) removeMember(region string) error {
	if region == n.cfg.Region {
		return fmt.Errorf("%w: %s is this node", ErrMemberAlive, region)
	}
	listed := n.mlListed()
	n.regMu.Lock()
	defer n.regMu.Unlock()
	n.peersMu.Lock()
	mb := n.members[region]
	_, remembered := n.known[region]
	if mb == nil && !remembered {
		n.peersMu.Unlock()
		return fmt.Errorf("%w: %s", ErrNoSuchMember, region)
	}
	state := propagation.Unseen
	if mb != nil {
		state = mb.state
	}
	if listed[region] {
		state = propagation.Alive
	}
	if state == propagation.Alive || state == propagation.Suspect {
		n.peersMu.Unlock()
		return fmt.Errorf("%w: %s is %s; stop it first (only a region that is down can be removed)", ErrMemberAlive, region, state)
	}
	delete(n.members, region)
	n.peersMu.Unlock()
	delete(n.known, region)
	n.persistRegions()
	n.log.Warn().Str("member", region).Str("state", state).Msg("member removed by the operator")
	return nil
}

// statusInputs gathers what the pure propagation status needs: every
// region of the cluster (remembered or in touch, down ones included) with
// its state, when it was last heard from and whether (and when) it is known
// to have applied id. known reports whether any region knows the id.
func (n *Node) statusInputs(id replication.MutationID, now time.Time) (in propagation.Input, committedAt *time.Time, known bool) {
	in = propagation.Input{Now: now, SilenceBound: propagation.DefaultSilenceBound}
	self := propagation.Region{Name: n.cfg.Region, State: propagation.Alive, LastHeard: now, Self: true}
	n.mu.RLock()
	// Both instants are the replication node's own, so a status asked
	// between an apply and the flush after it is already whole.
	if t, ok := n.rn.CommittedAt(id); ok {
		committedAt, known = &t, true
	}
	if at, ok := n.rn.AppliedAt(n.cfg.Region, id); ok {
		self.Applied, self.AppliedAt, known = true, at, true
	}
	n.mu.RUnlock()
	in.Regions = append(in.Regions, self)

	listed := n.mlListed()
	n.regMu.Lock()
	regions := make(map[string]struct{}, len(n.known))
	for r := range n.known {
		regions[r] = struct{}{}
	}
	n.regMu.Unlock()
	// Membership under peersMu, then acks under mu: the two locks are never
	// held together.
	n.peersMu.RLock()
	for r, mb := range n.members {
		if mb.state == propagation.Alive || mb.state == propagation.Suspect {
			regions[r] = struct{}{} // joined since the set was last saved
		}
	}
	peers := make([]propagation.Region, 0, len(regions))
	for r := range regions {
		if r == n.cfg.Region {
			continue
		}
		reg := propagation.Region{Name: r, State: propagation.Unseen}
		if mb := n.members[r]; mb != nil {
			reg.State, reg.LastHeard = mb.state, mb.lastSeen
		}
		peers = append(peers, reg)
	}
	n.peersMu.RUnlock()
	n.mu.RLock()
	for i := range peers {
		reg := &peers[i]
		if _, learned, ok := n.rn.PeerApplied(reg.Name); ok && learned.After(reg.LastHeard) {
			reg.LastHeard = learned
		}
		if listed[reg.Name] {
			// memberlist's failure detector vouches for it: it has not
			// declared it dead (a suspect member stays listed until then).
			reg.State, reg.LastHeard = propagation.Alive, now
		}
		if at, ok := n.rn.AppliedAt(reg.Name, id); ok {
			reg.Applied, reg.AppliedAt, known = true, at, true
		}
	}
	n.mu.RUnlock()
	in.Regions = append(in.Regions, peers...)
	return in, committedAt, known
}

// WaitStatus is Status as a long poll: it answers as soon as id is applied
// in every region, or with the status at hand when wait runs out or ctx
// ends. An id no region knows yet is waited for too; if it is still unknown
// at the end, the error is ErrUnknownMutation.
func (n *Node) WaitStatus(ctx context.Context, id replication.MutationID, wait time.Duration) (MutationStatus, error) {
	timer := time.NewTimer(max(0, wait))
	defer timer.Stop()
	// Peers' applies arrive through the gossip delegate, which signals
	// nothing: a short poll catches them (this region's own applies wake
	// the loop at once).
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n.mu.RLock()
		ch := n.appliedCh
		n.mu.RUnlock()
		st, err := n.Status(id)
		if (err == nil && (st.Complete || st.Lost)) || wait <= 0 {
			return st, err
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-timer.C:
			return n.Status(id)
		case <-ctx.Done():
			return n.Status(id)
		case <-n.ctx.Done():
			return n.Status(id)
		}
	}
}
