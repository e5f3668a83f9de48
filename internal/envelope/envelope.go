// Package envelope is the wire format of one accepted ingest request in NATS JetStream: the
// gateway encodes the already validated records once, as Arrow IPC, so the writer never
// parses JSON again. One message carries one request batch: its accepted records and, for the
// quarantine table, its rejected ones. The metadata travels in message headers.
//
// Payloads are authenticated with HMAC-SHA256 under a key the gateway and the writers share.
// Arrow's IPC reader trusts the lengths inside a stream (a forged message can make it
// allocate without bound), so nothing is decoded before the MAC checks out: neither a corrupt
// message nor one published by anyone but a lakegate gateway reaches the Arrow reader.
package envelope

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Message headers of a batch.
const (
	HeaderBatchID        = "Lakegate-Batch-Id"
	HeaderProducer       = "Lakegate-Producer"
	HeaderProducerRoles  = "Lakegate-Producer-Roles"
	HeaderPolicyRevision = "Lakegate-Policy-Revision"
	HeaderSchemaID       = "Lakegate-Schema-Id"
	HeaderAccepted       = "Lakegate-Accepted"
	HeaderRejected       = "Lakegate-Rejected"
	HeaderReceivedAt     = "Lakegate-Received-At"
)

// version is the first byte of every payload; a writer refuses payloads it does not know.
const version byte = 1

// MaxPayload bounds a decoded payload's parts, against corrupt or hostile messages.
const MaxPayload = 256 << 20

// Meta describes a batch.
type Meta struct {
	BatchID        string
	Producer       string
	ProducerRoles  []string
	PolicyRevision string
	SchemaID       int
	Accepted       int
	Rejected       int
	ReceivedAt     time.Time
}

// Headers returns m as message headers.
func (m Meta) Headers() map[string]string {
	return map[string]string{
		HeaderBatchID:        m.BatchID,
		HeaderProducer:       m.Producer,
		HeaderProducerRoles:  joinRoles(m.ProducerRoles),
		HeaderPolicyRevision: m.PolicyRevision,
		HeaderSchemaID:       strconv.Itoa(m.SchemaID),
		HeaderAccepted:       strconv.Itoa(m.Accepted),
		HeaderRejected:       strconv.Itoa(m.Rejected),
		HeaderReceivedAt:     m.ReceivedAt.UTC().Format(time.RFC3339Nano),
	}
}

// MetaFromHeaders parses message headers; get returns a header's value.
func MetaFromHeaders(get func(string) string) (Meta, error) {
	var (
		m   Meta
		err error
	)
	m.BatchID, m.Producer, m.PolicyRevision = get(HeaderBatchID), get(HeaderProducer), get(HeaderPolicyRevision)
	if m.BatchID == "" {
		return Meta{}, errors.New("envelope: no batch id header")
	}
	if m.ProducerRoles, err = splitRoles(get(HeaderProducerRoles)); err != nil {
		return Meta{}, err
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{HeaderSchemaID, &m.SchemaID}, {HeaderAccepted, &m.Accepted}, {HeaderRejected, &m.Rejected}} {
		if *f.dst, err = strconv.Atoi(get(f.name)); err != nil || *f.dst < 0 {
			return Meta{}, fmt.Errorf("envelope: header %s: not a count", f.name)
		}
	}
	if m.ReceivedAt, err = time.Parse(time.RFC3339Nano, get(HeaderReceivedAt)); err != nil {
		return Meta{}, fmt.Errorf("envelope: header %s: %w", HeaderReceivedAt, err)
	}
	return m, nil
}

// joinRoles writes roles as one header value: each query-escaped (a role may hold any
// character, a header value no line break), comma-separated.
func joinRoles(roles []string) string {
	esc := make([]string, len(roles))
	for i, r := range roles {
		esc[i] = url.QueryEscape(r)
	}
	return strings.Join(esc, ",")
}

// splitRoles reads a joinRoles value; an empty or missing header is no roles (batches of
// gateways from before the header).
func splitRoles(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		r, err := url.QueryUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("envelope: header %s: %w", HeaderProducerRoles, err)
		}
		parts[i] = r
	}
	return parts, nil
}

// ErrBadMAC is returned for a payload whose authentication code does not match.
var ErrBadMAC = errors.New("envelope: payload authentication failed")

// macSize is the length of the HMAC-SHA256 that follows the version byte.
const macSize = sha256.Size

// Encode writes the accepted and the rejected records (either may be nil) as one payload:
// a version byte, the HMAC-SHA256 under key of everything after it, then for each part a
// 4-byte big-endian length and an Arrow IPC stream (zstd-compressed buffers); length 0
// stands for no part.
func Encode(key []byte, accepted, rejected arrow.Record) ([]byte, error) {
	if len(key) < 16 {
		return nil, errors.New("envelope: the signing key must be at least 16 bytes")
	}
	var buf bytes.Buffer
	buf.WriteByte(version)
	buf.Write(make([]byte, macSize))
	for _, rec := range []arrow.Record{accepted, rejected} {
		if rec == nil {
			buf.Write([]byte{0, 0, 0, 0})
			continue
		}
		var part bytes.Buffer
		w := ipc.NewWriter(&part, ipc.WithSchema(rec.Schema()), ipc.WithZstd())
		if err := w.Write(rec); err != nil {
			return nil, fmt.Errorf("envelope: encode: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("envelope: encode: %w", err)
		}
		if part.Len() > MaxPayload {
			return nil, fmt.Errorf("envelope: part of %d bytes exceeds %d", part.Len(), MaxPayload)
		}
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(part.Len()))
		buf.Write(n[:])
		buf.Write(part.Bytes())
	}
	out := buf.Bytes()
	mac := hmac.New(sha256.New, key)
	mac.Write(out[1+macSize:])
	copy(out[1:1+macSize], mac.Sum(nil))
	return out, nil
}

// Decode checks and reads a payload written by Encode with the same key. The caller releases
// the returned records.
func Decode(key, payload []byte, mem memory.Allocator) (accepted, rejected arrow.Record, err error) {
	if len(payload) < 1 || payload[0] != version {
		return nil, nil, errors.New("envelope: unknown payload version")
	}
	if len(payload) < 1+macSize {
		return nil, nil, errors.New("envelope: truncated payload")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(payload[1+macSize:])
	if !hmac.Equal(mac.Sum(nil), payload[1:1+macSize]) {
		return nil, nil, ErrBadMAC
	}
	rest := payload[1+macSize:]
	var parts [2]arrow.Record
	defer func() {
		if err != nil {
			for _, p := range parts {
				if p != nil {
					p.Release()
				}
			}
		}
	}()
	for i := range parts {
		if len(rest) < 4 {
			return nil, nil, errors.New("envelope: truncated payload")
		}
		n := binary.BigEndian.Uint32(rest[:4])
		rest = rest[4:]
		if n == 0 {
			continue
		}
		if n > MaxPayload || int(n) > len(rest) {
			return nil, nil, errors.New("envelope: part length exceeds the payload")
		}
		if parts[i], err = decodePart(rest[:n], mem); err != nil {
			return nil, nil, err
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, nil, errors.New("envelope: trailing bytes after the payload")
	}
	return parts[0], parts[1], nil
}

func decodePart(b []byte, mem memory.Allocator) (rec arrow.Record, err error) {
	defer func() {
		// The IPC reader can panic on corrupt input; a message is data, not code to trust.
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("envelope: corrupt Arrow IPC: %v", p)
		}
	}()
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(&boundedAllocator{Allocator: mem, budget: decodeBudget(len(b))}))
	if err != nil {
		return nil, fmt.Errorf("envelope: decode: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("envelope: decode: %w", err)
		}
		return nil, errors.New("envelope: part holds no record batch")
	}
	rec = r.Record()
	rec.Retain()
	if r.Next() {
		rec.Release()
		return nil, errors.New("envelope: part holds more than one record batch")
	}
	return rec, nil
}
