// Package layers holds no code: its test checks that the imports of the
// module point the way docs/architecture.md ("Packages") says.
package layers
