package envelope

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// boundedAllocator refuses to allocate more than budget bytes in total. Arrow IPC readers
// trust the lengths written in the stream; a corrupt or hostile message could otherwise make
// the writer allocate gigabytes. It panics with errOverBudget, which decodePart recovers.
type boundedAllocator struct {
	memory.Allocator
	budget int
	used   int
}

type overBudgetError struct{ size, budget int }

func (e overBudgetError) Error() string {
	return fmt.Sprintf("envelope: decoding would allocate more than %d bytes (asked for %d)", e.budget, e.size)
}

func (a *boundedAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.Allocator.Allocate(size)
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	a.take(size - len(b))
	return a.Allocator.Reallocate(size, b)
}

func (a *boundedAllocator) take(n int) {
	if n < 0 || a.used+n > a.budget {
		panic(overBudgetError{size: n, budget: a.budget})
	}
	a.used += n
}

// decodeBudget is how much decoding a part of n bytes may allocate: generous for
// compressed columnar data, bounded for anything else.
func decodeBudget(n int) int {
	return min(max(64*n, 16<<20), 4<<30)
}
