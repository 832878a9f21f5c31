package regiontest

import "math/rand/v2"

// RandomBytes returns n reproducible pseudo-random bytes: file contents
// for tests of the rack's client and reader.
func RandomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
