package main

// automaton is a suffix automaton of the training traces joined by
// separators that no trace holds, so it accepts exactly the pieces of
// consecutive calls found inside some training trace.
type automaton struct {
	st   []node
	last int32
}

type node struct {
	len, link int32
	next      map[int32]int32
}

func newAutomaton(train [][]int) *automaton {
	a := &automaton{st: []node{{link: -1, next: map[int32]int32{}}}}
	sep := int32(-1)
	for _, t := range train {
		for _, c := range t {
			a.extend(int32(c))
		}
		a.extend(sep) // calls are non-negative: a separator never matches
		sep--
	}
	return a
}

// extend appends one symbol (the standard online construction).
func (a *automaton) extend(c int32) {
	cur := int32(len(a.st))
	a.st = append(a.st, node{len: a.st[a.last].len + 1, next: map[int32]int32{}})
	p := a.last
	for ; p != -1; p = a.st[p].link {
		if _, ok := a.st[p].next[c]; ok {
			break
		}
		a.st[p].next[c] = cur
	}
	switch {
	case p == -1:
		a.st[cur].link = 0
	case a.st[a.st[p].next[c]].len == a.st[p].len+1:
		a.st[cur].link = a.st[p].next[c]
	default:
		q := a.st[p].next[c]
		clone := int32(len(a.st))
		next := make(map[int32]int32, len(a.st[q].next))
		for k, v := range a.st[q].next {
			next[k] = v
		}
		a.st = append(a.st, node{len: a.st[p].len + 1, link: a.st[q].link, next: next})
		for ; p != -1 && a.st[p].next[c] == q; p = a.st[p].link {
			a.st[p].next[c] = clone
		}
		a.st[q].link, a.st[cur].link = clone, clone
	}
	a.last = cur
}

// cover cuts trace greedily into the longest pieces the automaton accepts
// (a call never seen in training is a piece of its own) and returns the
// pieces' lengths. For a dictionary closed under substrings the greedy cut
// has the fewest pieces.
func (a *automaton) cover(trace []int) []int {
	var pieces []int
	for i := 0; i < len(trace); {
		v, l := int32(0), 0
		for i+l < len(trace) {
			nx, ok := a.st[v].next[int32(trace[i+l])]
			if !ok {
				break
			}
			v, l = nx, l+1
		}
		l = max(l, 1)
		pieces = append(pieces, l)
		i += l
	}
	return pieces
}
