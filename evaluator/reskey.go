package evaluator

import "sort"

// The resource index. The service index leaves every statement of a service
// as a candidate; at AWS's quotas that is hundreds of S3 statements, each on
// its own bucket or prefix, and scanning them all costs more than the rest
// of a decision. So a large service list is split further by a key every
// matching request shares with the statement: the resource ARN's head
// (arn:aws:s3:::) and the resource part up to a separator ('/' or ':').
//
// A pattern whose literal prefix (the text before its first wildcard or
// variable) holds a separator at position p matches only resources with
// that same text up to p, which therefore have a separator at p too: the
// request's key at that separator equals the pattern's. An exact pattern
// (no wildcard, no variable) is keyed by its whole text. The request
// computes its keys (one per separator, at most maxResLevels, and the whole
// resource) once, and each keyed list is searched for them.

// keyedMin is the smallest service list worth a resource index: below it a
// scan is as cheap as the lookups.
const keyedMin = 8

// maxResLevels bounds the separators a key may reach; deeper patterns are
// keyed at this depth, which every matching request also reaches.
const maxResLevels = 8

// keyedStmt is one statement of a resource index.
type keyedStmt struct {
	hash uint32
	stmt int32
}

const fnvOffset, fnvPrime = uint32(2166136261), uint32(16777619)

func fnvAdd(h uint32, s string) uint32 {
	for i := range len(s) {
		h ^= uint32(s[i])
		h *= fnvPrime
	}
	return h
}

func isResSep(c byte) bool { return c == '/' || c == ':' }

// resKey returns the key of one Resource pattern, or false when the pattern
// has none (a wildcard or variable in the head, or no separator before the
// first wildcard).
func resKey(ap *arnPattern) (string, bool) {
	if ap.any || !ap.headExact {
		return "", false
	}
	p := &ap.parts[5]
	if !p.hasVar && p.shape == shapeExact {
		return ap.head + p.lit, true
	}
	lit := p.litPrefix
	cut, n := -1, 0
	for i := range len(lit) {
		if isResSep(lit[i]) {
			cut = i
			if n++; n == maxResLevels {
				break
			}
		}
	}
	if cut < 0 {
		return "", false
	}
	return ap.head + lit[:cut], true
}

// stmtKey returns the one key every resource of s shares, or false.
func stmtKey(s *statement) (string, bool) {
	if s.noResource || s.notResource || len(s.resources) == 0 {
		return "", false
	}
	key := ""
	for i := range s.resources {
		k, ok := resKey(&s.resources[i])
		if !ok || (i > 0 && k != key) {
			return "", false
		}
		key = k
	}
	return key, true
}

// indexResources splits a large service list into statements keyed by
// resource, sorted by key hash, and the rest.
func (e *svcStmts) indexResources(stmts []statement) {
	if len(e.stmts) < keyedMin {
		return
	}
	for _, i := range e.stmts {
		if k, ok := stmtKey(&stmts[i]); ok {
			h := fnvAdd(fnvOffset, k)
			e.keyed = append(e.keyed, keyedStmt{hash: h, stmt: i})
			e.mask |= 1 << (h & 63)
		} else {
			e.unkeyed = append(e.unkeyed, i)
		}
	}
	// statements with one key stay in document order
	sort.SliceStable(e.keyed, func(a, b int) bool { return e.keyed[a].hash < e.keyed[b].hash })
	if e.unkeyed == nil {
		e.unkeyed = []int32{}
	}
}

// resLevels computes the request's resource keys once: the hash of the
// head plus the resource part up to each separator, and of the whole ARN.
// Equal hashes are kept once, so no statement is visited twice.
func (rc *reqCtx) resLevels() []uint32 {
	if rc.levelsDone {
		return rc.levels[:rc.nlevels]
	}
	rc.levelsDone = true
	if !rc.arnOK {
		return nil
	}
	add := func(h uint32) {
		for i := range rc.nlevels {
			if rc.levels[i] == h {
				return
			}
		}
		rc.levels[rc.nlevels] = h
		rc.nlevels++
	}
	h := fnvAdd(fnvOffset, rc.head)
	res, n := rc.arn[5], 0
	for i := range len(res) {
		if isResSep(res[i]) && n < maxResLevels {
			add(h)
			n++
		}
		h ^= uint32(res[i])
		h *= fnvPrime
	}
	add(h)
	return rc.levels[:rc.nlevels]
}

// search returns the first index of e.keyed whose hash is at least h.
func (e *svcStmts) search(h uint32) int {
	lo, hi := 0, len(e.keyed)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e.keyed[m].hash < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
