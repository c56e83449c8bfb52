package runner

// sketch is the part of DDSketch the runner uses: a logarithmic index
// mapping over two collapsing-lowest dense stores, added to and read for
// quantiles and the CDF. It follows github.com/DataDog/sketches-go v1.4.8
// (ddsketch.LogCollapsingLowestDenseDDSketch; Apache License 2.0)
// operation for operation, so its figures are the library's to the bit
// (TestSketchMatchesDDSketch). It exists because the library's mapping and
// store packages link protobuf for their encodings, which the runner never
// uses: 2-3 MB of the playground's WebAssembly module.

import "math"

const (
	// The library's limits on what its mapping indexes.
	sketchExpOverflow      = 7.094361393031e+02      // math.Exp overflows above it
	sketchMinNormalFloat64 = 2.2250738585072014e-308 // 2^-1022
	// The dense store's growth rule.
	sketchLengthOverhead = 64
	sketchGrowth         = 0.1
)

type sketch struct {
	gamma, multiplier          float64
	minIndexable, maxIndexable float64
	positive, negative         denseStore
	zeroCount                  float64
}

// newSketch is LogCollapsingLowestDenseDDSketch(relativeAccuracy, maxBins)
// for an accuracy in (0, 1).
func newSketch(relativeAccuracy float64, maxBins int) *sketch {
	gamma := (1 + relativeAccuracy) / (1 - relativeAccuracy)
	multiplier := 1 / math.Log(gamma)
	return &sketch{
		gamma:        gamma,
		multiplier:   multiplier,
		minIndexable: math.Max(math.Exp(math.MinInt32/multiplier+1), sketchMinNormalFloat64*gamma),
		maxIndexable: math.Min(math.Exp(math.MaxInt32/multiplier-1), math.Exp(sketchExpOverflow)/(2*gamma)*(gamma+1)),
		positive:     newDenseStore(maxBins),
		negative:     newDenseStore(maxBins),
	}
}

func (s *sketch) index(v float64) int {
	i := math.Log(v) * s.multiplier
	if i >= 0 {
		return int(i)
	}
	return int(i) - 1
}

func (s *sketch) value(index int) float64 {
	return math.Exp(float64(index)/s.multiplier) * (1 + (1 - 2/(1+s.gamma)))
}

// add records v; like the library it drops what it cannot index (NaN,
// magnitudes beyond about 1e308).
func (s *sketch) add(v float64) {
	switch {
	case v > s.minIndexable:
		if v <= s.maxIndexable {
			s.positive.add(s.index(v))
		}
	case v < -s.minIndexable:
		if v >= -s.maxIndexable {
			s.negative.add(s.index(-v))
		}
	case math.IsNaN(v):
	default:
		s.zeroCount++
	}
}

func (s *sketch) count() float64 { return s.zeroCount + s.positive.count + s.negative.count }

// quantile is the library's GetValueAtQuantile for q in [0, 1] on a
// sketch holding values.
func (s *sketch) quantile(q float64) float64 {
	rank := q * (s.count() - 1)
	neg := s.negative.count
	switch {
	case rank < neg:
		return -s.value(s.negative.keyAtRank(neg - 1 - rank))
	case rank < s.zeroCount+neg:
		return 0
	default:
		return s.value(s.positive.keyAtRank(rank - s.zeroCount - neg))
	}
}

// forEach is the library's ForEach: zero, then positive, then negative bins.
func (s *sketch) forEach(f func(value, count float64)) {
	if s.zeroCount != 0 {
		f(0, s.zeroCount)
	}
	s.positive.forEach(func(i int, c float64) { f(s.value(i), c) })
	s.negative.forEach(func(i int, c float64) { f(-s.value(i), c) })
}

// denseStore is the library's CollapsingLowestDenseStore: at most maxBins
// bins; when the indexes span more, the lowest collapse into the first.
type denseStore struct {
	bins               []float64
	count              float64
	offset             int
	minIndex, maxIndex int
	maxBins            int
	collapsed          bool
}

func newDenseStore(maxBins int) denseStore {
	return denseStore{minIndex: math.MaxInt32, maxIndex: math.MinInt32, maxBins: maxBins}
}

func (s *denseStore) add(index int) {
	s.bins[s.normalize(index)]++
	s.count++
}

func (s *denseStore) normalize(index int) int {
	if index < s.minIndex {
		if s.collapsed {
			return 0
		}
		s.extendRange(index, index)
		if s.collapsed {
			return 0
		}
	} else if index > s.maxIndex {
		s.extendRange(index, index)
	}
	return index - s.offset
}

func (s *denseStore) newLength(newMin, newMax int) int {
	desired := newMax - newMin + 1
	return min(int((float64(desired+sketchLengthOverhead-1)/sketchGrowth+1)*sketchGrowth), s.maxBins)
}

func (s *denseStore) extendRange(newMin, newMax int) {
	newMin = min(newMin, s.minIndex)
	newMax = max(newMax, s.maxIndex)
	switch {
	case s.count == 0:
		s.bins = append(s.bins, make([]float64, s.newLength(newMin, newMax))...)
		s.offset, s.minIndex, s.maxIndex = newMin, newMin, newMax
		s.adjust(newMin, newMax)
	case newMin >= s.offset && newMax < s.offset+len(s.bins):
		s.minIndex, s.maxIndex = newMin, newMax
	default:
		if n := s.newLength(newMin, newMax); n > len(s.bins) {
			s.bins = append(s.bins, make([]float64, n-len(s.bins))...)
		}
		s.adjust(newMin, newMax)
	}
}

func (s *denseStore) adjust(newMin, newMax int) {
	if newMax-newMin+1 <= len(s.bins) {
		// Center the counts in the bins.
		mid := newMin + (newMax-newMin+1)/2
		s.shiftCounts(s.offset + len(s.bins)/2 - mid)
		s.minIndex, s.maxIndex = newMin, newMax
		return
	}
	newMin = newMax - len(s.bins) + 1
	if newMin >= s.maxIndex {
		s.bins = make([]float64, len(s.bins))
		s.offset, s.minIndex = newMin, newMin
		s.bins[0] = s.count
	} else {
		shift := s.offset - newMin
		if shift < 0 {
			n := 0.0
			for i := s.minIndex; i < newMin; i++ {
				n += s.bins[i-s.offset]
			}
			s.resetBins(s.minIndex, newMin-1)
			s.bins[newMin-s.offset] += n
			s.minIndex = newMin
			s.shiftCounts(shift)
		} else {
			s.shiftCounts(shift)
			s.minIndex = newMin
		}
	}
	s.maxIndex = newMax
	s.collapsed = true
}

func (s *denseStore) shiftCounts(shift int) {
	lo, hi := s.minIndex-s.offset, s.maxIndex-s.offset
	copy(s.bins[lo+shift:], s.bins[lo:hi+1])
	if shift > 0 {
		s.resetBins(s.minIndex, s.minIndex+shift-1)
	} else {
		s.resetBins(s.maxIndex+shift+1, s.maxIndex)
	}
	s.offset -= shift
}

func (s *denseStore) resetBins(from, to int) {
	for i := from - s.offset; i <= to-s.offset; i++ {
		s.bins[i] = 0
	}
}

func (s *denseStore) keyAtRank(rank float64) int {
	if rank < 0 {
		rank = 0
	}
	n := 0.0
	for i, b := range s.bins {
		n += b
		if n > rank {
			return i + s.offset
		}
	}
	return s.maxIndex
}

func (s *denseStore) forEach(f func(index int, count float64)) {
	for i := s.minIndex; i <= s.maxIndex; i++ {
		if c := s.bins[i-s.offset]; c > 0 {
			f(i, c)
		}
	}
}
