package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
)

func sample(t testing.TB, n int) arrow.Record {
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%3 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append("v")
		}
	}
	return b.NewRecord()
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	acc, rej := sample(t, 100), sample(t, 3)
	defer acc.Release()
	defer rej.Release()
	for _, tc := range []struct {
		name     string
		acc, rej arrow.Record
	}{{"both", acc, rej}, {"accepted only", acc, nil}, {"rejected only", nil, rej}, {"none", nil, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(testKey, tc.acc, tc.rej)
			require.NoError(t, err)
			a, r, err := Decode(testKey, b, mem)
			require.NoError(t, err)
			for _, pair := range [][2]arrow.Record{{tc.acc, a}, {tc.rej, r}} {
				if pair[0] == nil {
					require.Nil(t, pair[1])
					continue
				}
				require.True(t, array.RecordEqual(pair[0], pair[1]))
				pair[1].Release()
			}
		})
	}
}

func TestDecodeRejectsCorruptPayloads(t *testing.T) {
	acc := sample(t, 10)
	defer acc.Release()
	good, err := Encode(testKey, acc, nil)
	require.NoError(t, err)
	flipped := append([]byte{}, good...)
	flipped[len(flipped)/2] ^= 1
	for name, b := range map[string][]byte{
		"empty":         {},
		"wrong version": append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-7],
		"trailing":      append(append([]byte{}, good...), 1, 2, 3),
		"one bit":       flipped,
		"short":         {1, 0, 0},
	} {
		_, _, err := Decode(testKey, b, memory.DefaultAllocator)
		require.Error(t, err, name)
	}
	_, _, err = Decode([]byte("another key of 32 bytes, really!"), good, memory.DefaultAllocator)
	require.ErrorIs(t, err, ErrBadMAC, "a payload signed with another key is refused")
	_, err = Encode([]byte("short"), acc, nil)
	require.Error(t, err)

	// Structural checks behind the MAC still hold for payloads our own key signed.
	for name, body := range map[string][]byte{
		"huge length":  {0xff, 0xff, 0xff, 0xff},
		"garbage part": {0, 0, 0, 4, 'a', 'b', 'c', 'd', 0, 0, 0, 0},
	} {
		_, _, err := Decode(testKey, sign(body), memory.DefaultAllocator)
		require.Error(t, err, name)
	}
}

func TestMetaHeaders(t *testing.T) {
	m := Meta{BatchID: "b1", Producer: "alice", ProducerRoles: []string{"producer", "a,b c", "line\r\nbreak", "%zz", "rôle"},
		PolicyRevision: "sha256:x", SchemaID: 2, Accepted: 10, Rejected: 1, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	h := m.Headers()
	require.NotContains(t, h[HeaderProducerRoles], "\n", "a header value holds no line break")
	got, err := MetaFromHeaders(func(k string) string { return h[k] })
	require.NoError(t, err)
	require.Equal(t, m, got)

	// A batch of a gateway from before the roles header has no roles.
	delete(h, HeaderProducerRoles)
	got, err = MetaFromHeaders(func(k string) string { return h[k] })
	require.NoError(t, err)
	require.Nil(t, got.ProducerRoles)
	h[HeaderProducerRoles] = "ok,%zz"
	_, err = MetaFromHeaders(func(k string) string { return h[k] })
	require.ErrorContains(t, err, HeaderProducerRoles)
	h[HeaderProducerRoles] = ""
	h[HeaderAccepted] = "-1"
	_, err = MetaFromHeaders(func(k string) string { return h[k] })
	require.ErrorContains(t, err, HeaderAccepted)
}

// sign wraps body (the parts) into a payload with a valid MAC under testKey.
func sign(body []byte) []byte {
	mac := hmac.New(sha256.New, testKey)
	mac.Write(body)
	return append(append([]byte{version}, mac.Sum(nil)...), body...)
}

// Messages come from the stream, which anything with publish rights can write to: decoding
// must never panic or allocate without bound, and nothing unsigned gets decoded.
func FuzzDecode(f *testing.F) {
	acc := sample(f, 5)
	defer acc.Release()
	good, _ := Encode(testKey, acc, acc)
	f.Add(good)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, r, err := Decode(testKey, b, memory.DefaultAllocator)
		if err == nil && string(b) != string(good) {
			t.Fatalf("decoded a payload that our key did not sign")
		}
		if err != nil {
			return
		}
		if a != nil {
			a.Release()
		}
		if r != nil {
			r.Release()
		}
	})
}
