// Package layers holds no code: its tests check that the imports of the
// module point the way docs/architecture.md ("Packages") says, and that its
// package table names every package.
package layers
