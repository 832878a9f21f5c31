package cache

import "container/list"

// A candidate eviction order measured by TestPolicyTrace and not chosen: a
// segmented LRU by bytes. A block enters probation; a later use promotes it
// to the protected segment (protectedShare of the limit).

// protectedShare is the protected segment's share of the limit, in percent.
const protectedShare = 80

// segments of the order.
const (
	segNone uint8 = iota
	segProbation
	segProtected
)

// pnode is one block's place in the order.
type pnode struct {
	elem  *list.Element // in slru.prob or slru.prot, Value the node
	size  int64
	seg   uint8
	at    int64 // clock at insertion
	owner any   // the entry
}

// slru is a segmented LRU by bytes.
type slru struct {
	prob, prot *list.List // front is the most recently used
	protBytes  int64
	protMax    int64
	window     int64 // uses within window of insertion do not promote
}

func newSLRU(limit, window int64) *slru {
	return &slru{prob: list.New(), prot: list.New(), protMax: limit * protectedShare / 100, window: window}
}

// len returns how many nodes the order holds.
func (p *slru) len() int { return p.prob.Len() + p.prot.Len() }

// insert adds n, not in the order, as probation's most recently used node.
func (p *slru) insert(n *pnode, now int64) {
	n.seg, n.at = segProbation, now
	n.elem = p.prob.PushFront(n)
}

// touch records a use of n at clock now. It reports whether the order
// changed.
func (p *slru) touch(n *pnode, now int64) bool {
	switch n.seg {
	case segProtected:
		if p.prot.Front() == n.elem {
			return false
		}
		p.prot.MoveToFront(n.elem)
		return true
	case segProbation:
		if now-n.at < p.window {
			if p.prob.Front() == n.elem {
				return false
			}
			p.prob.MoveToFront(n.elem)
			return true
		}
		p.prob.Remove(n.elem)
		p.promote(n)
		return true
	}
	return false
}

// promote puts n, in no list, at the front of protected, demoting protected's
// oldest nodes to probation while it holds more than protMax bytes.
func (p *slru) promote(n *pnode) {
	n.seg = segProtected
	n.elem = p.prot.PushFront(n)
	p.protBytes += n.size
	for p.protBytes > p.protMax && p.prot.Len() > 1 {
		old := p.prot.Back().Value.(*pnode)
		p.prot.Remove(old.elem)
		p.protBytes -= old.size
		old.seg = segProbation
		old.elem = p.prob.PushFront(old)
	}
}

// remove drops n from the order.
func (p *slru) remove(n *pnode) {
	switch n.seg {
	case segProbation:
		p.prob.Remove(n.elem)
	case segProtected:
		p.prot.Remove(n.elem)
		p.protBytes -= n.size
	}
	n.seg, n.elem = segNone, nil
}

// each calls fn for every node in eviction order (the next victim first)
// until fn returns false. fn may remove the node it is given, and no other.
func (p *slru) each(fn func(*pnode) bool) {
	for _, l := range [2]*list.List{p.prob, p.prot} {
		for el := l.Back(); el != nil; {
			prev := el.Prev()
			if !fn(el.Value.(*pnode)) {
				return
			}
			el = prev
		}
	}
}
