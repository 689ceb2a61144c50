// Command gobench runs gomap's benchmark workloads on Go's own map, so that gomap can be
// measured against the original in the same sitting. The Rust benches start it (see
// README.md); it can also be run by hand.
//
// Three modes, each printing one result on stdout:
//
//	gobench -mode op -op get_hit -n 1000000
//	    builds what the operation needs (untimed), times the operation once over n keys
//	    and prints "SECONDS <s>". The keys are those of crates/gomap/benches/throughput.rs:
//	    the first 2n distinct values of splitmix64 from the same seed, the first n present
//	    and the rest absent. Operations: insert_empty, insert_presized, get_hit, get_miss,
//	    remove, iterate, clone, clear.
//
//	gobench -mode growth -n 10000000
//	    grows map[uint64]uint64 from empty to n keys, timing every insert, and prints
//	    "GROWTH p50 p99 p99.99 max over_1ms over_100us" in nanoseconds and counts, then
//	    "HEAP bytes_per_entry" (what the heap in use grew by, after a GC, over n).
//
//	gobench -mode mix -map sync.Map -workload ReadHeavy -threads 2 -cap-log2 22 -presized
//	    conc-map-bench's mix, as crates/gomap/benches/concurrent.rs runs it (bustle's
//	    algorithm), on sync.Map or on a map behind a sync.RWMutex ("RWMutex map"); prints
//	    "MIX <best Mops/s of -repeat runs> <insert p99.99 ns> <insert max ns>".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

// splitMix64 is the Rust benches' SplitMix64.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9E3779B97F4A7C15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// distinctKeys is common::distinct_keys: the first n distinct values from a fixed seed.
func distinctKeys(n int) []uint64 {
	rng := splitMix64(0x5EED5EED601A3A75)
	seen := make(map[uint64]struct{}, n)
	keys := make([]uint64, 0, n)
	for len(keys) < n {
		k := rng.next()
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			keys = append(keys, k)
		}
	}
	return keys
}

// sink keeps results alive, so that no timed work can be optimised away.
var sink uint64

func fill(m map[uint64]uint64, keys []uint64) map[uint64]uint64 {
	for _, k := range keys {
		m[k] = k
	}
	return m
}

// clearMap is Go 1.19's clear idiom, which the compiler turns into one mapclear call.
//
//go:noinline
func clearMap(m map[uint64]uint64) {
	for k := range m {
		delete(m, k)
	}
}

// timeOp times one run of op over n keys, as throughput.rs's time_op does for the Rust maps.
func timeOp(op string, n int) time.Duration {
	all := distinctKeys(2 * n)
	keys, misses := all[:n], all[n:]
	var built map[uint64]uint64
	switch op {
	case "get_hit", "get_miss", "remove", "iterate", "clone", "clear":
		built = fill(make(map[uint64]uint64), keys)
	}
	runtime.GC() // start every timed region with the same, clean heap
	var acc uint64
	start := time.Now()
	switch op {
	case "insert_empty":
		built = fill(make(map[uint64]uint64), keys)
	case "insert_presized":
		built = fill(make(map[uint64]uint64, n), keys)
	case "get_hit", "get_miss":
		probes := keys
		if op == "get_miss" {
			probes = misses
		}
		for _, k := range probes {
			if v, ok := built[k]; ok {
				acc += v
			}
		}
	case "remove":
		for _, k := range keys {
			delete(built, k)
		}
	case "iterate":
		for k, v := range built {
			acc += k ^ v
		}
	case "clone":
		// Go 1.19 has no maps.Clone: a presized map and a range loop, as Go code does it.
		c := make(map[uint64]uint64, len(built))
		for k, v := range built {
			c[k] = v
		}
		acc += uint64(len(c))
	case "clear":
		clearMap(built)
	default:
		fail("unknown -op %q", op)
	}
	elapsed := time.Since(start)
	sink += acc + uint64(len(built))
	return elapsed
}

// growth grows a map from empty to n keys, timing every insert.
func growth(n int) {
	keys := distinctKeys(n)
	lat := make([]int64, n)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	m := make(map[uint64]uint64)
	for i, k := range keys {
		start := time.Now()
		m[k] = k
		lat[i] = int64(time.Since(start))
	}
	var over1ms, over100us int
	for _, l := range lat {
		if l > 1_000_000 {
			over1ms++
		}
		if l > 100_000 {
			over100us++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) int64 { return lat[int(q*float64(n-1))] }
	fmt.Printf("GROWTH %d %d %d %d %d %d\n", at(0.5), at(0.99), at(0.9999), lat[n-1], over1ms, over100us)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	fmt.Printf("HEAP %.2f\n", float64(after.HeapInuse-before.HeapInuse)/float64(len(m)))
	// Only the map may have changed the heap: the keys and latencies stay live across it.
	runtime.KeepAlive(m)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(lat)
}

// table is one map under test in the mix (bustle's Collection).
type table interface {
	get(k uint64) bool
	insert(k uint64) bool // true if the key was new
	remove(k uint64) bool
	update(k uint64) bool // adds one to the value if the key is present
}

// syncMap is sync.Map as Go 1.19 offers it: no Swap or CompareAndSwap (Go 1.20), so an
// insert is LoadOrStore and an update a Load then a Store (each thread works on its own
// keys, so the update cannot lose a race).
type syncMap struct{ m sync.Map }

func (t *syncMap) get(k uint64) bool { _, ok := t.m.Load(k); return ok }
func (t *syncMap) insert(k uint64) bool {
	_, loaded := t.m.LoadOrStore(k, uint64(0))
	return !loaded
}
func (t *syncMap) remove(k uint64) bool { _, ok := t.m.LoadAndDelete(k); return ok }
func (t *syncMap) update(k uint64) bool {
	v, ok := t.m.Load(k)
	if ok {
		t.m.Store(k, v.(uint64)+1)
	}
	return ok
}

// rwMap is Go's other usual pattern: a map behind a sync.RWMutex.
type rwMap struct {
	mu sync.RWMutex
	m  map[uint64]uint64
}

func (t *rwMap) get(k uint64) bool {
	t.mu.RLock()
	_, ok := t.m[k]
	t.mu.RUnlock()
	return ok
}
func (t *rwMap) insert(k uint64) bool {
	t.mu.Lock()
	_, had := t.m[k]
	t.m[k] = 0
	t.mu.Unlock()
	return !had
}
func (t *rwMap) remove(k uint64) bool {
	t.mu.Lock()
	_, had := t.m[k]
	delete(t.m, k)
	t.mu.Unlock()
	return had
}
func (t *rwMap) update(k uint64) bool {
	t.mu.Lock()
	v, ok := t.m[k]
	if ok {
		t.m[k] = v + 1
	}
	t.mu.Unlock()
	return ok
}

const (
	opRead = iota
	opInsert
	opRemove
	opUpdate
)

type workload struct {
	mix     [4]int // read, insert, remove, update (percent)
	prefill float64
}

var workloads = map[string]workload{
	"ReadHeavy": {[4]int{98, 1, 1, 0}, 0.75},
	"Exchange":  {[4]int{10, 40, 40, 10}, 0.75},
	"RapidGrow": {[4]int{5, 80, 5, 10}, 0},
}

// mix is concurrent.rs's `mix`: bustle's loop, checking every result.
func mix(t table, keys []uint64, ops *[100]int, n, prefilled int, lat *[]int64) {
	nkeys := len(keys)
	eraseSeq, insertSeq, findSeq := 0, prefilled, 0
	a, c, mask := nkeys/2+1, nkeys/4-1, nkeys-1
	for i := 0; i < n; i++ {
		switch ops[i%100] {
		case opRead:
			found := t.get(keys[findSeq])
			if findSeq >= eraseSeq && found != (findSeq < insertSeq) {
				fail("get #%d: found %v", i, found)
			}
			findSeq = (a*findSeq + c) & mask
		case opInsert:
			var isNew bool
			if lat != nil {
				start := time.Now()
				isNew = t.insert(keys[insertSeq])
				*lat = append(*lat, int64(time.Since(start)))
			} else {
				isNew = t.insert(keys[insertSeq])
			}
			if !isNew {
				fail("insert #%d of a new key found it present", i)
			}
			insertSeq++
		case opRemove:
			if eraseSeq == insertSeq {
				if t.remove(keys[findSeq]) {
					fail("remove #%d from an empty table succeeded", i)
				}
				findSeq = (a*findSeq + c) & mask
			} else {
				if !t.remove(keys[eraseSeq]) {
					fail("remove #%d of a present key failed", i)
				}
				eraseSeq++
			}
		case opUpdate:
			updated := t.update(keys[findSeq])
			if findSeq >= eraseSeq && updated != (findSeq < insertSeq) {
				fail("update #%d: updated %v", i, updated)
			}
			findSeq = (a*findSeq + c) & mask
		}
	}
}

func nextPowerOfTwo(x int) int {
	p := 1
	for p < x {
		p <<= 1
	}
	return p
}

// runMix is concurrent.rs's `run`: one prefill and one timed mix; returns the mix's wall
// time and, with timed, every insert's latency.
func runMix(mapName string, w workload, threads int, capLog2 uint, presized, timed bool, seed uint64) (time.Duration, []int64) {
	capacity := 1 << capLog2
	totalOps := capacity
	rng := splitMix64(seed)
	var list []int
	for op, pct := range w.mix {
		for i := 0; i < pct; i++ {
			list = append(list, op)
		}
	}
	for i := len(list) - 1; i > 0; i-- {
		j := int(rng.next() % uint64(i+1))
		list[i], list[j] = list[j], list[i]
	}
	var ops [100]int
	copy(ops[:], list)

	prefill := int(float64(capacity) * w.prefill)
	maxInserts := (totalOps + 99) / 100 * w.mix[opInsert]
	biggest := capacity
	if maxInserts > biggest {
		biggest = maxInserts
	}
	perThread := nextPowerOfTwo((biggest + prefill + threads - 1) / threads)
	keys := make([][]uint64, threads)
	for t := range keys {
		r := splitMix64(rng.next())
		keys[t] = make([]uint64, perThread)
		for i := range keys[t] {
			keys[t][i] = r.next()
		}
	}

	var tab table
	switch mapName {
	case "sync.Map":
		tab = &syncMap{} // sync.Map takes no size hint
	case "RWMutex map":
		hint := 0
		if presized {
			hint = capacity
		}
		tab = &rwMap{m: make(map[uint64]uint64, hint)}
	default:
		fail("unknown -map %q (sync.Map or \"RWMutex map\")", mapName)
	}
	prefillPerThread := prefill / threads
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(keys []uint64) {
			defer wg.Done()
			for _, k := range keys[:prefillPerThread] {
				if !tab.insert(k) {
					fail("prefill: a new key was present")
				}
			}
		}(keys[t])
	}
	wg.Wait()
	if s, ok := tab.(*syncMap); ok {
		s.m.Range(func(_, _ any) bool { return false }) // as concurrent.rs primes SyncMap
	}
	runtime.GC()

	opsPerThread := totalOps / threads
	lats := make([][]int64, threads)
	var ready, done sync.WaitGroup
	startGate := make(chan struct{})
	for t := 0; t < threads; t++ {
		ready.Add(1)
		done.Add(1)
		go func(t int) {
			defer done.Done()
			var lat *[]int64
			if timed {
				lats[t] = make([]int64, 0, opsPerThread)
				lat = &lats[t]
			}
			ready.Done()
			<-startGate
			mix(tab, keys[t], &ops, opsPerThread, prefillPerThread, lat)
		}(t)
	}
	ready.Wait()
	start := time.Now()
	close(startGate)
	done.Wait()
	elapsed := time.Since(start)
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	return elapsed, all
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	mode := flag.String("mode", "", "op, growth or mix")
	op := flag.String("op", "", "the operation to time (mode op)")
	n := flag.Int("n", 1_000_000, "keys (modes op and growth)")
	mapName := flag.String("map", "sync.Map", "sync.Map or \"RWMutex map\" (mode mix)")
	wname := flag.String("workload", "ReadHeavy", "ReadHeavy, Exchange or RapidGrow (mode mix)")
	threads := flag.Int("threads", 1, "threads (mode mix)")
	capLog2 := flag.Uint("cap-log2", 22, "log2 of the capacity, also the operation count (mode mix)")
	presized := flag.Bool("presized", false, "create the map with the capacity as its hint (mode mix)")
	repeat := flag.Int("repeat", 3, "throughput runs; the best is printed (mode mix)")
	latency := flag.Bool("latency", true, "one more run timing every insert (mode mix)")
	flag.Parse()
	if *n < 1 || *threads < 1 || *repeat < 1 || *capLog2 < 4 || *capLog2 > 30 {
		fail("-n, -threads and -repeat must be at least 1 and -cap-log2 within 4..=30")
	}
	switch *mode {
	case "op":
		fmt.Printf("SECONDS %.9f\n", timeOp(*op, *n).Seconds())
	case "growth":
		growth(*n)
	case "mix":
		w, ok := workloads[*wname]
		if !ok {
			fail("unknown -workload %q", *wname)
		}
		seed := uint64(time.Now().UnixNano())
		best := 0.0
		for r := 0; r < *repeat; r++ {
			elapsed, _ := runMix(*mapName, w, *threads, *capLog2, *presized, false, seed)
			ops := float64((1 << *capLog2) / *threads * *threads)
			if mops := ops / elapsed.Seconds() / 1e6; mops > best {
				best = mops
			}
		}
		p9999, max := -1.0, -1.0
		if *latency {
			_, lat := runMix(*mapName, w, *threads, *capLog2, *presized, true, seed)
			if len(lat) > 0 {
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				p9999 = float64(lat[int(0.9999*float64(len(lat)-1))])
				max = float64(lat[len(lat)-1])
			}
		}
		fmt.Printf("MIX %.2f %.0f %.0f\n", best, p9999, max)
	default:
		fail("-mode must be op, growth or mix")
	}
}
