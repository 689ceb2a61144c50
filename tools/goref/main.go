// Command goref measures Go 1.19's classic map (map[int64]int64) by reading the
// runtime's private hmap header through unsafe, and writes the Go-fidelity
// fixtures used by crates/gomap/tests/go_fidelity.rs.
//
// It only works with Go runtimes whose map header has the Go 1.19 amd64 layout
// (Go 1.12 .. 1.23, 64-bit); it refuses to run anywhere else.
//
// Usage (see README.md):
//
//	go run . -out ../../crates/gomap/tests/fixtures/go1.19
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// hmap mirrors the first 48 bytes of runtime.hmap in Go 1.19 on amd64.
type hmap struct {
	count      int            // @0
	flags      uint8          // @8
	b          uint8          // @9
	noverflow  uint16         // @10
	hash0      uint32         // @12
	buckets    unsafe.Pointer // @16
	oldbuckets unsafe.Pointer // @24
	nevacuate  uintptr        // @32
	extra      unsafe.Pointer // @40
}

const (
	flagSameSizeGrow = 8
	// bucketSize is the size of a map[int64]int64 bucket: 8 tophash bytes,
	// 8 keys, 8 elems and the overflow pointer.
	bucketSize = 8 + 8*8 + 8*8 + 8
	// maxAlloc is runtime.maxAlloc on linux/amd64 (1 << heapAddrBits).
	maxAlloc = 1 << 48
	// maxB is the largest B whose boundary hints are measured.
	maxB = 22
)

// sink makes every measured map escape to the heap, so that the compiler never
// places the header (or a first bucket) on the stack.
var sink map[int64]int64

func header(m map[int64]int64) *hmap {
	return *(**hmap)(unsafe.Pointer(&m))
}

type state struct {
	count     int
	b         uint8
	noverflow uint16
	growing   bool
	sameSize  bool
}

func stateOf(m map[int64]int64) state {
	h := header(m)
	return state{
		count:     h.count,
		b:         h.b,
		noverflow: h.noverflow,
		growing:   h.oldbuckets != nil,
		sameSize:  h.flags&flagSameSizeGrow != 0,
	}
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goref: "+format+"\n", args...)
	os.Exit(1)
}

// checkLayout refuses to run unless the mirrored header plausibly matches the
// runtime's: right platform, right size and offsets, and fields that behave as
// expected on a small map.
func checkLayout() {
	if runtime.GOARCH != "amd64" || unsafe.Sizeof(uintptr(0)) != 8 {
		die("needs linux/amd64, got %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	v := runtime.Version()
	if !strings.HasPrefix(v, "go1.19") {
		die("needs Go 1.19 (hmap layout), running %s", v)
	}
	var h hmap
	if unsafe.Sizeof(h) != 48 || unsafe.Offsetof(h.flags) != 8 || unsafe.Offsetof(h.b) != 9 ||
		unsafe.Offsetof(h.noverflow) != 10 || unsafe.Offsetof(h.hash0) != 12 ||
		unsafe.Offsetof(h.buckets) != 16 || unsafe.Offsetof(h.oldbuckets) != 24 ||
		unsafe.Offsetof(h.nevacuate) != 32 || unsafe.Offsetof(h.extra) != 40 {
		die("mirrored hmap layout is wrong")
	}
	n := 100
	m := make(map[int64]int64, n)
	sink = m
	for i := 1; i <= 37; i++ {
		m[int64(i)] = int64(i)
	}
	s := header(m)
	if s.count != len(m) || s.b != 4 || s.buckets == nil || s.oldbuckets != nil || s.flags != 0 {
		die("hmap of make(map[int64]int64, 100) with 37 keys does not look as expected: %+v", *s)
	}
	sink = nil
}

// goB is the sizing rule of runtime.makemap, used only to cross-check the
// measurement (the fixture records what Go did, not this formula).
func goB(hint int) uint8 {
	if hint < 0 || hint > maxAlloc/bucketSize {
		hint = 0
	}
	b := uint8(0)
	for hint > 8 && uint64(hint) > 13*((uint64(1)<<b)/2) {
		b++
	}
	return b
}

// maxHint(B) is the largest hint for which make picks B (8 for B = 0).
func maxHint(b uint) int {
	if b == 0 {
		return 8
	}
	return 13 << (b - 1)
}

type writer struct {
	f    *os.File
	w    *bufio.Writer
	path string
}

func create(dir, name string, header []string) *writer {
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		die("%v", err)
	}
	w := &writer{f: f, w: bufio.NewWriter(f), path: path}
	for _, l := range header {
		w.printf("# %s\n", l)
	}
	return w
}

func (w *writer) printf(format string, args ...interface{}) {
	if _, err := fmt.Fprintf(w.w, format, args...); err != nil {
		die("%s: %v", w.path, err)
	}
}

func (w *writer) close() {
	if err := w.w.Flush(); err != nil {
		die("%s: %v", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		die("%s: %v", w.path, err)
	}
}

var (
	outDir     = flag.String("out", "../../crates/gomap/tests/fixtures/go1.19", "fixture directory")
	growthN    = flag.Int("n", 2000000, "keys inserted per growth fill")
	fills      = flag.Int("fills", 8, "independent fills (fresh maps) recorded in growth_writes.txt")
	randHints  = flag.Int("randhints", 300, "random hints in [0, 2e7] added to sizing.txt")
	hintSeed   = flag.Int64("seed", 1, "math/rand seed for the random hints")
	scenarioRe = flag.Int("scenario-reps", 20, "fresh maps per scenario (all must agree)")
	ovfFills   = flag.Int("ovf-fills", 200, "fills sampled for overflow.txt")
)

func commonHeader(what string) []string {
	return []string{
		"gomap Go-fidelity fixture: " + what,
		"go version: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + " (Debian golang-1.19-go)",
		"generated by tools/goref (see tools/goref/README.md):",
		"  cd tools/goref && GOCACHE=/tmp/gocache HOME=/tmp $GO run . " + strings.Join(os.Args[1:], " "),
		"  where GO=$(dpkg -L golang-1.19-go | grep 'bin/go$')",
		"map type: map[int64]int64 (144-byte buckets); values read from the runtime's private hmap header",
	}
}

// ---------------------------------------------------------------- sizing

func sizingHints() []int {
	set := map[int]bool{}
	for h := 0; h <= 2000; h++ {
		set[h] = true
	}
	for b := uint(0); b <= maxB; b++ {
		set[maxHint(b)] = true
		set[maxHint(b)+1] = true
	}
	for p := 1; p <= 10000000; p *= 10 {
		set[p] = true
	}
	for k := uint(0); k <= 24; k++ {
		for _, d := range []int{-1, 0, 1} {
			if h := (1 << k) + d; h >= 0 {
				set[h] = true
			}
		}
	}
	r := rand.New(rand.NewSource(*hintSeed))
	for i := 0; i < *randHints; i++ {
		set[r.Intn(20000001)] = true
	}
	hints := make([]int, 0, len(set))
	for h := range set {
		hints = append(hints, h)
	}
	sort.Ints(hints)
	return hints
}

// measureMake returns the header state right after make(map[int64]int64, hint)
// and checks the facts every fresh map must satisfy.
func measureMake(hint int) state {
	m := make(map[int64]int64, hint)
	sink = m
	h := header(m)
	s := stateOf(m)
	if s.count != 0 || s.noverflow != 0 || s.growing || h.flags != 0 || (h.buckets == nil) != (s.b == 0) {
		die("make(map[int64]int64, %d): unexpected fresh header %+v", hint, *h)
	}
	sink = nil
	if s.b >= 14 {
		// Give large arrays back so the process stays small.
		debug.FreeOSMemory()
	}
	return s
}

func writeSizing(dir string) {
	hints := sizingHints()
	hdr := append(commonHeader("B chosen by make(map[int64]int64, hint)"),
		"hints: every hint 0..=2000; max hint and max hint + 1 for every B = 0..=22;",
		"  powers of 10 up to 1e7; 2^k - 1, 2^k, 2^k + 1 for k = 0..=24;",
		fmt.Sprintf("  %d math/rand (seed %d) hints in [0, 2e7] (duplicates removed); %d hints in total", *randHints, *hintSeed, len(hints)),
		"for every hint Go also had right after make: count = 0, noverflow = 0, oldbuckets = nil",
		"  (not growing), flags = 0, and buckets allocated iff B > 0",
		"the table equals Go's rule: B = 0 if hint <= 8, else the least B with hint <= 13 * 2^(B-1)",
		"format: hint B")
	w := create(dir, "sizing.txt", hdr)
	for _, hint := range hints {
		s := measureMake(hint)
		if s.b != goB(hint) {
			die("make(map, %d) gave B = %d, rule says %d", hint, s.b, goB(hint))
		}
		w.printf("%d %d\n", hint, s.b)
	}
	w.close()

	// Hints that Go ignores (treated as 0): negative, or hint * bucketsize
	// overflowing uintptr or exceeding maxAlloc.
	smallestIgnored := maxAlloc/bucketSize + 1
	firstOverflow := int(math.MaxUint64/bucketSize) + 1 // smallest hint whose size overflows uintptr
	bogus := []int{
		-1, -2, math.MinInt32, math.MinInt64 + 1, math.MinInt64,
		smallestIgnored, smallestIgnored + 1, 1 << 41, 1 << 47, 1 << 48,
		firstOverflow - 1, firstOverflow, 1 << 62, math.MaxInt64 - 1, math.MaxInt64,
	}
	hdr = append(commonHeader("hints make(map[int64]int64, hint) ignores (treated as 0)"),
		"Go's makemap treats the hint as 0 when hint * bucketsize (144) overflows uintptr or",
		fmt.Sprintf("  exceeds maxAlloc = 2^48; the smallest such positive hint is %d (hint %d is still", smallestIgnored, smallestIgnored-1),
		"  honoured: it asks for 2^39 buckets, which Go cannot allocate, so it is not measured);",
		"  negative hints, converted to uintptr, always overflow",
		"a Rust usize hint corresponds to the Go int with the same 64 bits (usize::MAX is -1)",
		"for every hint Go also had: count = 0, noverflow = 0, not growing, buckets = nil",
		"format: go_int_hint hint_as_u64 B")
	w = create(dir, "bogus_hints.txt", hdr)
	for _, hint := range bogus {
		s := measureMake(hint)
		if s.b != 0 {
			die("make(map, %d) gave B = %d, expected 0", hint, s.b)
		}
		w.printf("%d %d %d\n", hint, uint64(hint), s.b)
	}
	w.close()
}

// ---------------------------------------------------------------- growth

type growth struct {
	oldB, newB  uint8
	start, done int // insert numbers, counting from 1
	sameSize    bool
}

// fill inserts keys 1..=n into make(map[int64]int64) and reports every B change
// (insert number, old B, new B) and every growth.
func fill(n int) (changes [][3]int, growths []growth, final state) {
	m := make(map[int64]int64)
	sink = m
	prev := stateOf(m)
	cur := -1 // index in growths of the growth in progress
	for i := 1; i <= n; i++ {
		m[int64(i)] = int64(i)
		s := stateOf(m)
		if s.count != i {
			die("count %d after %d inserts", s.count, i)
		}
		started := !prev.growing && (s.growing || s.b != prev.b)
		if s.b != prev.b {
			if !started {
				die("B changed from %d to %d at insert %d without a growth starting", prev.b, s.b, i)
			}
			changes = append(changes, [3]int{i, int(prev.b), int(s.b)})
		}
		if started {
			growths = append(growths, growth{oldB: prev.b, newB: s.b, start: i, done: -1,
				sameSize: s.b == prev.b || (s.growing && s.sameSize)})
			cur = len(growths) - 1
		}
		if cur >= 0 && !s.growing {
			growths[cur].done = i
			cur = -1
		}
		prev = s
	}
	sink = nil
	debug.FreeOSMemory()
	return changes, growths, prev
}

func writeGrowth(dir string) {
	n := *growthN
	var first [][3]int
	var all [][]growth
	var finals []state
	for f := 0; f < *fills; f++ {
		changes, growths, final := fill(n)
		if f == 0 {
			first = changes
		} else if fmt.Sprint(changes) != fmt.Sprint(first) {
			die("B changes differ between fills: %v vs %v", changes, first)
		}
		all = append(all, growths)
		finals = append(finals, final)
	}
	sameSize := 0
	for _, gs := range all {
		for _, g := range gs {
			if g.sameSize {
				sameSize++
			}
		}
	}
	last := first[len(first)-1]
	hdr := append(commonHeader(fmt.Sprintf("B while inserting keys 1..=%d into make(map[int64]int64)", n)),
		"one line per change of B: insert_number old_B new_B (insert_number counts from 1;",
		"  B is 0 before the first insert and changes only on the listed inserts, so B after",
		"  every insert follows from this file); every change is the start of a doubling",
		"  growth (hashGrow sets the new B at once)",
		fmt.Sprintf("identical in all %d fills of this run (fresh map, fresh hash seed each);", *fills),
		fmt.Sprintf("  same-size growths seen in those fills: %d", sameSize),
		fmt.Sprintf("state after the last insert of fill 1: count = %d, B = %d, growing = %v, noverflow = %d (noverflow is hash-dependent)",
			finals[0].count, finals[0].b, finals[0].growing, finals[0].noverflow),
		fmt.Sprintf("format: insert_number old_B new_B   (last change: insert %d, %d -> %d)", last[0], last[1], last[2]))
	w := create(dir, "growth.txt", hdr)
	for _, c := range first {
		w.printf("%d %d %d\n", c[0], c[1], c[2])
	}
	w.close()

	hdr = append(commonHeader(fmt.Sprintf("duration of every growth while inserting keys 1..=%d into make(map[int64]int64)", n)),
		fmt.Sprintf("%d independent fills (each a fresh map with a fresh hash seed) in one process;", *fills),
		"  start and done are hash-independent/hash-dependent respectively: start = the insert that",
		"  started the growth (B changed), done = the insert after which oldbuckets was nil again",
		"  (equal to start when the growth finished inside the triggering insert),",
		"  writes = done - start + 1; ratio = writes / 2^old_B (theory: ln 2 = 0.693 for large old_B)",
		"same_size is 1 for a same-size growth (flags & sameSizeGrow), 0 for a doubling",
		"format: fill old_B new_B same_size start done writes ratio")
	w = create(dir, "growth_writes.txt", hdr)
	for f, gs := range all {
		for _, g := range gs {
			ss := 0
			if g.sameSize {
				ss = 1
			}
			if g.done < 0 {
				w.printf("# fill %d: growth %d -> %d started at insert %d still in progress after insert %d\n",
					f+1, g.oldB, g.newB, g.start, n)
				continue
			}
			writes := g.done - g.start + 1
			w.printf("%d %d %d %d %d %d %d %.4f\n", f+1, g.oldB, g.newB, ss, g.start, g.done, writes,
				float64(writes)/float64(uint64(1)<<g.oldB))
		}
	}
	w.close()
}

// ---------------------------------------------------------------- overflow

// writeOverflow records noverflow (exact while B < 16) at the fullest moment of
// each B: right after insert number maxHint(B), the last insert before the
// doubling to B + 1, over many fills of keys 1, 2, 3, ... into make(map).
func writeOverflow(dir string) {
	const minB, maxOvfB = 4, 15
	n := maxHint(maxOvfB)
	samples := make([][]float64, maxOvfB+1)
	for f := 0; f < *ovfFills; f++ {
		m := make(map[int64]int64)
		sink = m
		next := uint(minB)
		for i := 1; i <= n; i++ {
			m[int64(i)] = int64(i)
			if i == maxHint(next) {
				s := stateOf(m)
				if s.b != uint8(next) || s.growing {
					die("overflow fill: after insert %d B = %d growing = %v", i, s.b, s.growing)
				}
				samples[next] = append(samples[next], float64(s.noverflow))
				next++
			}
		}
		sink = nil
	}
	hdr := append(commonHeader("noverflow (overflow buckets, exact for B < 16) at the fullest point of each B"),
		fmt.Sprintf("%d fills, each inserting keys 1..=%d into a fresh make(map[int64]int64) (fresh seed);", *ovfFills, n),
		"  sampled right after insert number count = 13 * 2^(B-1), the last insert before the doubling",
		"  to B + 1 (the growth to B has long finished there, and no same-size growth happened);",
		"  overflow buckets counted since the growth to B started, as Go's noverflow does",
		"hash-dependent: the summary is a distribution (sd = sample standard deviation)",
		"format: count B fills mean sd min max")
	w := create(dir, "overflow.txt", hdr)
	for b := minB; b <= maxOvfB; b++ {
		v := samples[b]
		sort.Float64s(v)
		var sum, sq float64
		for _, x := range v {
			sum += x
		}
		mean := sum / float64(len(v))
		for _, x := range v {
			sq += (x - mean) * (x - mean)
		}
		sd := math.Sqrt(sq / float64(len(v)-1))
		w.printf("%d %d %d %.2f %.2f %.0f %.0f\n", maxHint(uint(b)), b, len(v), mean, sd, v[0], v[len(v)-1])
	}
	w.close()
}

// ---------------------------------------------------------------- scenarios

// A scenario is a short script of map operations whose outcome (len, B,
// growing, and optionally noverflow) does not depend on the hash seed.
// Operations (keys k are int64, inclusive ranges, values = key):
//
//	new          m = make(map[int64]int64)                   (must be first)
//	make H       m = make(map[int64]int64, H)                (must be first)
//	set A B      m[k] = k for k = A..=B (insert or update)
//	del A B      delete(m, k) for k = A..=B (present or absent)
//	get A B      _ = m[k] for k = A..=B
//	clear        for k := range m { delete(m, k) }  (compiled to runtime.mapclear)
type scenario struct {
	script   string
	noverflo bool // whether noverflow is deterministic after this script
}

var scenarios = []scenario{
	{"new", true},
	{"make 0", true},
	{"make 8", true},
	{"make 9", true},
	{"make 1000", true},
	{"make 100000", true},
	// B = 0 holds 8 entries; updates, deletes and lookups never grow.
	{"new; set 1 8", true},
	{"new; set 1 8; set 1 8; set 8 8; get 1 100", true},
	{"new; set 1 8; del 100 200", true},
	{"new; set 1 8; set 9 9", false},
	{"new; set 1 8; del 1 1; set 9 9", true},
	{"new; set 1 8; del 1 1; set 9 10", false},
	{"new; set 1 8; del 1 8", true},
	{"new; set 1 8; del 1 8; set 11 18", true},
	// B = 1 holds 13, B = 2 holds 26; growths 0->1 and 1->2 finish inside the insert.
	{"new; set 1 13", false},
	{"new; set 1 13; set 1 13; del 14 100", false},
	{"new; set 1 14", false},
	// growth 2 -> 3 (4 old buckets) starts at insert 27 and needs >= 2 writes.
	{"new; set 1 26", false},
	{"new; set 1 27", false},
	// growth 7 -> 8 (128 old buckets) starts at insert 833 and needs 64..=128 writes.
	{"new; set 1 832", false},
	{"new; set 1 833", false},
	{"new; set 1 833; get 1 5000", false},
	{"new; set 1 833; set 1 62", false},
	{"new; set 1 833; set 1 127", false},
	{"new; set 1 833; del 100000 100126", false},
	{"new; set 1 833; del 1 127", false},
	{"new; set 1 833; set 834 960", false},
	// clear keeps B, cancels a growth and resets noverflow.
	{"new; set 1 833; clear", true},
	{"new; set 1 833; clear; set 1 1664", false},
	{"new; set 1 833; clear; set 1 1665", false},
	{"new; set 1 100000; clear", true},
	{"new; clear", true},
	{"make 1000; clear", true},
	// deletes never shrink.
	{"new; set 1 100000; del 1 100000", false},
	{"new; set 1 100000; del 1 100000; set 100001 206496", false},
	{"new; set 1 100000; del 1 100000; set 100001 206497", false},
	// hinted maps grow only after the hint (rounded up to the B's capacity).
	{"make 1000; set 1 1664", false},
	{"make 1000; set 1 1665", false},
	{"make 1664; set 1 1664; set 1 1664", false},
	{"make 1665; set 1 1665", false},
	{"make 100000; set 1 106496", false},
	{"make 100000; set 1 106497", false},
}

func runScenario(script string) (state, map[int64]int64) {
	var m map[int64]int64
	for i, op := range strings.Split(script, ";") {
		f := strings.Fields(op)
		if len(f) == 0 {
			die("scenario %q: empty op", script)
		}
		arg := func(j int) int64 {
			if len(f) <= j {
				die("scenario %q: op %q needs %d arguments", script, op, j)
			}
			v, err := strconv.ParseInt(f[j], 10, 64)
			if err != nil {
				die("scenario %q: %v", script, err)
			}
			return v
		}
		if (i == 0) != (f[0] == "new" || f[0] == "make") {
			die("scenario %q: new/make must come first and only first", script)
		}
		switch f[0] {
		case "new":
			m = make(map[int64]int64)
		case "make":
			m = make(map[int64]int64, int(arg(1)))
		case "set":
			for k := arg(1); k <= arg(2); k++ {
				m[k] = k
			}
		case "del":
			for k := arg(1); k <= arg(2); k++ {
				delete(m, k)
			}
		case "get":
			for k := arg(1); k <= arg(2); k++ {
				_ = m[k]
			}
		case "clear":
			clearMap(m)
		default:
			die("scenario %q: unknown op %q", script, f[0])
		}
		sink = m
	}
	return stateOf(m), m
}

// clearMap is the idiom the Go 1.19 compiler turns into one runtime.mapclear
// call (checked in README.md with go tool objdump). It must not be inlined: the
// Go 1.19 compiler applies the rewrite only to the function's own body, so an
// inlined copy becomes a real delete loop (mapiterinit/mapdelete).
//
//go:noinline
func clearMap(m map[int64]int64) {
	for k := range m {
		delete(m, k)
	}
}

func writeScenarios(dir string) {
	hdr := append(commonHeader("outcome of short operation scripts on map[int64]int64"),
		"ops (ranges inclusive, value = key): new = make(map[int64]int64); make H = make(map[int64]int64, H);",
		"  set A B = m[k] = k for k in A..=B; del A B = delete(m, k); get A B = _ = m[k];",
		"  clear = for k := range m { delete(m, k) } (one runtime.mapclear call)",
		fmt.Sprintf("every script ran on %d fresh maps (fresh hash seeds) and gave the same outcome;", *scenarioRe),
		"  the scripts were chosen so that the outcome cannot depend on the hash",
		"  (growing = oldbuckets != nil; noverflow is '-' where it is hash-dependent)",
		"format: script | len B growing noverflow")
	w := create(dir, "scenarios.txt", hdr)
	for _, sc := range scenarios {
		var first state
		for r := 0; r < *scenarioRe; r++ {
			s, m := runScenario(sc.script)
			if s.count != len(m) {
				die("scenario %q: count %d != len %d", sc.script, s.count, len(m))
			}
			if !sc.noverflo {
				s.noverflow = 0
			}
			if r == 0 {
				first = s
			} else if s != first {
				die("scenario %q is hash-dependent: %+v vs %+v", sc.script, s, first)
			}
		}
		if first.growing && first.sameSize {
			die("scenario %q ends in a same-size growth", sc.script)
		}
		ov := "-"
		if sc.noverflo {
			ov = strconv.Itoa(int(first.noverflow))
		}
		w.printf("%s | %d %d %v %s\n", sc.script, first.count, first.b, first.growing, ov)
	}
	w.close()
}

func main() {
	flag.Parse()
	checkLayout()
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		die("%v", err)
	}
	writeSizing(*outDir)
	writeScenarios(*outDir)
	writeGrowth(*outDir)
	writeOverflow(*outDir)
}
