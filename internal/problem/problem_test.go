package problem

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestList(t *testing.T) {
	var l List
	require.NoError(t, l.Err())
	l.Add("schema.fields[0].name", "bad name %q", "9x")
	l.Add("quality[1].pattern", "does not compile")
	err := l.Err()
	require.EqualError(t, err, `invalid input: schema.fields[0].name: bad name "9x"; quality[1].pattern: does not compile`)
	require.Len(t, err.(*List).Problems, 2)
}
