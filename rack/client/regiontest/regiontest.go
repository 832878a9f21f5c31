// Package regiontest runs a fake region for tests: an httptest server that
// speaks the region HTTP API of package wire (tree with ETag and long-poll,
// blobs with Range, per-file block digests, bearer-secret auth) from an
// in-memory map of blobs, and that can misbehave on demand.
//
// The faults are the ones a rack must survive: answering every blob request
// with an error status (SetStatus), never answering (SetHang), stalling in
// the middle of a body (SetStallBody), sending wrong bytes for one block
// (Corrupt), and dying in the middle of a response (KillAfter). Request
// counters per block (BlockRequests) let a test check that a rack fetched a
// block exactly once.
//
// A Region is meant to be shared by the tests of several packages, so it only
// depends on net/http/httptest, testing and the bootfs leaf packages.
package regiontest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// Region is a fake region server. All methods are safe for concurrent use.
type Region struct {
	// Secret is the shared secret the region accepts.
	Secret string

	srv  *httptest.Server
	stop chan struct{} // closed at cleanup: releases hanging handlers

	// mu guards every field below.
	mu      sync.Mutex
	blobs   map[digest.Digest][]byte
	digests map[digest.Digest]*wire.BlockDigests
	tree    *wire.Tree
	changed chan struct{} // closed and replaced whenever tree changes

	status    int               // non-zero: every blob request answers this
	hang      bool              // blob requests never answer
	stallBody bool              // blob bodies stop after half their bytes
	corrupt   map[blockKey]bool // blocks served with a flipped byte
	killAfter int64             // >0: die after this many body bytes in all
	served    int64             // body bytes of blobs served so far
	killed    bool              // KillAfter fired: every request is aborted
	blockReqs map[blockKey]int  // Range requests by first block asked
	reqs      map[string]int    // requests by kind: "tree", "blob", "blocks"
	treeWaits int               // long-polls that are waiting now
}

type blockKey struct {
	d     digest.Digest
	index int64
}

// New starts a fake region that accepts secret and shuts it down when the
// test ends.
func New(tb testing.TB, secret string) *Region {
	tb.Helper()
	return NewAt(tb, secret, "127.0.0.1:0")
}

// NewAt is New listening on addr, e.g. the address of a Region closed
// earlier ("the region is back").
func NewAt(tb testing.TB, secret, addr string) *Region {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("regiontest: listen on %s: %v", addr, err)
	}
	r := &Region{
		Secret:    secret,
		stop:      make(chan struct{}),
		blobs:     make(map[digest.Digest][]byte),
		digests:   make(map[digest.Digest]*wire.BlockDigests),
		changed:   make(chan struct{}),
		corrupt:   make(map[blockKey]bool),
		blockReqs: make(map[blockKey]int),
		reqs:      make(map[string]int),
	}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
	tb.Cleanup(func() {
		close(r.stop)
		r.srv.Close()
	})
	return r
}

// URL returns the region's base URL, e.g. "http://127.0.0.1:34567".
func (r *Region) URL() string { return r.srv.URL }

// Close shuts the region down now: new connections are refused.
func (r *Region) Close() {
	r.srv.CloseClientConnections()
	r.srv.Listener.Close()
}

// Add stores data as a blob and returns its digest.
func (r *Region) Add(data []byte) digest.Digest {
	h := digest.NewHasher(digest.BlockSize)
	h.Write(data)
	whole, blocks := h.Sum()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[whole] = data
	r.digests[whole] = &wire.BlockDigests{SHA256: whole, Size: int64(len(data)), BlockSize: digest.BlockSize, Blocks: blocks, Algorithm: h.Algorithm()}
	return whole
}

// SetBlob replaces the bytes the region serves for d (which then no longer
// match d: a region with a bad store).
func (r *Region) SetBlob(d digest.Digest, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[d] = data
}

// SetBlockDigests replaces what the region answers for d's block digests.
func (r *Region) SetBlockDigests(d digest.Digest, bd *wire.BlockDigests) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.digests[d] = bd
}

// SetTree sets the tree the region serves and wakes its long-polls.
func (r *Region) SetTree(t wire.Tree) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tree = &t
	close(r.changed)
	r.changed = make(chan struct{})
}

// SetStatus makes every blob and block-digest request answer code (0 heals).
func (r *Region) SetStatus(code int) { r.set(func() { r.status = code }) }

// SetHang makes every blob and block-digest request hang until the client
// gives up (or the test ends).
func (r *Region) SetHang(on bool) { r.set(func() { r.hang = on }) }

// SetStallBody makes blob responses send their headers and half their body,
// then stall until the client gives up.
func (r *Region) SetStallBody(on bool) { r.set(func() { r.stallBody = on }) }

// Corrupt makes the region flip one byte of block index of d whenever it is
// part of a response (on is false heals it).
func (r *Region) Corrupt(d digest.Digest, index int64, on bool) {
	r.set(func() { r.corrupt[blockKey{d, index}] = on })
}

// KillAfter makes the region die once it has sent n more body bytes of
// blobs: the response in progress is cut and the listener closed.
func (r *Region) KillAfter(n int64) { r.set(func() { r.killAfter = r.served + n }) }

// BlockRequests returns how many Range requests for d started in block index.
func (r *Region) BlockRequests(d digest.Digest, index int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blockReqs[blockKey{d, index}]
}

// Requests returns how many requests of kind ("tree", "blob", "blocks")
// the region has received, including refused ones.
func (r *Region) Requests(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[kind]
}

// Served returns the number of blob body bytes sent so far.
func (r *Region) Served() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.served
}

// TreeWaits returns the number of tree long-polls waiting now.
func (r *Region) TreeWaits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.treeWaits
}

func (r *Region) set(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

func (r *Region) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	killed := r.killed
	r.mu.Unlock()
	if killed {
		panic(http.ErrAbortHandler)
	}
	if req.URL.Path == wire.PathHealth {
		w.WriteHeader(http.StatusOK)
		return
	}
	kind := "blob"
	switch {
	case req.URL.Path == wire.PathTree:
		kind = "tree"
	case strings.HasSuffix(req.URL.Path, "/blocks"):
		kind = "blocks"
	}
	r.set(func() { r.reqs[kind]++ })
	if req.Header.Get("Authorization") != "Bearer "+r.Secret {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if req.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case kind == "tree":
		r.serveTree(w, req)
	case strings.HasPrefix(req.URL.Path, wire.PathBlobs):
		r.serveBlob(w, req, kind)
	default:
		http.NotFound(w, req)
	}
}
