package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/labstack/echo/v4"
)

// Listing reveals nothing a principal may not read. A list walks the rows after the page
// token's cursor, keeps those the policy lets the principal see and applies the caller's
// filters to those only, so that neither the items, nor whether a next page exists, nor the
// token depend on hidden objects. A page token is opaque: AES-GCM under a key every gateway
// process shares (Deps.PageKey), bound to the principal, the route and the filters.

// minPageKeyBytes is the shortest Deps.PageKey accepted.
const minPageKeyBytes = 32

// maxListScan bounds the rows one listing request examines. When it runs out before the page
// is full, the page ends there with a token that continues after the last row examined.
const maxListScan = 5000

// pageTokenVersion is the first byte of every page token and part of its associated data.
const pageTokenVersion = 1

// pageTokens seals cursors into page tokens and opens them.
type pageTokens struct {
	aead cipher.AEAD // random 96-bit nonces: sound for up to 2^32 tokens per key
}

func newPageTokens(key []byte) (*pageTokens, error) {
	if len(key) < minPageKeyBytes {
		return nil, errors.New("gateway: the page token key must be at least 32 bytes")
	}
	k := sha256.Sum256(key)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &pageTokens{aead: aead}, nil
}

// seal turns a cursor into a token valid only with the same associated data (scope).
func (p *pageTokens) seal(scope []byte, cursor []string) string {
	var plain []byte
	for _, part := range cursor {
		plain = appendString(plain, part)
	}
	out := p.aead.Seal([]byte{pageTokenVersion}, nil, plain, scope)
	return base64.RawURLEncoding.EncodeToString(out)
}

// open returns the cursor of n parts a token sealed with scope holds; ok is false for
// anything else: malformed, altered, forged, or sealed for another scope.
func (p *pageTokens) open(scope []byte, tok string, n int) (cursor []string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+p.aead.Overhead() || b[0] != pageTokenVersion {
		return nil, false
	}
	plain, err := p.aead.Open(nil, nil, b[1:], scope)
	if err != nil {
		return nil, false
	}
	for len(plain) > 0 && len(cursor) < n {
		size, k := binary.Uvarint(plain)
		if k <= 0 || size > uint64(len(plain)-k) {
			return nil, false
		}
		cursor = append(cursor, string(plain[k:k+int(size)]))
		plain = plain[k+int(size):]
	}
	if len(plain) > 0 || len(cursor) != n {
		return nil, false
	}
	return cursor, true
}

// appendString appends s to b, prefixed with its length.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// pageQuery names a listing's page parameters.
type pageQuery struct{ token, size string }

var (
	apiPage     = pageQuery{token: "page_token", size: "page_size"} // our API
	icebergPage = pageQuery{token: "pageToken", size: "pageSize"}   // the Iceberg REST catalog
)

// pageScope is the associated data of the request's page tokens: the principal, the route,
// its path parameters and every query parameter but the page's token and size, so that a
// token is refused for another principal, another list or other filters.
func pageScope(c echo.Context, q pageQuery) []byte {
	b := []byte{pageTokenVersion}
	add := func(s string) { b = appendString(b, s) }
	add(reqOf(c).principal.Subject)
	add(c.Path())
	for i, name := range c.ParamNames() {
		add(name)
		add(c.ParamValues()[i])
	}
	query := c.QueryParams()
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != q.token && k != q.size {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(k)
		b = binary.AppendUvarint(b, uint64(len(query[k])))
		for _, v := range query[k] {
			add(v)
		}
	}
	return b
}

// openPage returns the cursor (n parts) of the request's page token, nil without one.
func (s *Server) openPage(c echo.Context, q pageQuery, n int) ([]string, error) {
	tok := c.QueryParam(q.token)
	if tok == "" {
		return nil, nil
	}
	cursor, ok := s.pages.open(pageScope(c, q), tok, n)
	if !ok {
		return nil, errBadRequest("%s is not a token this server issued for this list, principal and filters", q.token)
	}
	return cursor, nil
}

// nextPage seals the cursor of the next page; "" when there is none (nil cursor).
func (s *Server) nextPage(c echo.Context, q pageQuery, cursor []string) string {
	if cursor == nil {
		return ""
	}
	return s.pages.seal(pageScope(c, q), cursor)
}

// listing is one list's access to its rows, in the order of its cursor.
type listing[T any] struct {
	// fetch returns up to n rows after the cursor (nil: from the start).
	fetch func(after []string, n int) ([]T, error)
	// cursor is the cursor just after row.
	cursor func(row T) []string
	// keep reports whether the principal may see row and it matches the caller's filters.
	keep func(row T) (bool, error)
}

// page collects up to limit rows after the cursor that l keeps, examining at most budget
// rows. next continues after the last row returned when the page is full, after the last row
// examined when the budget ran out, and is nil when the rows ended: a page that is not full
// says nothing of what the principal cannot see.
func (l listing[T]) page(after []string, limit, budget int) (rows []T, next []string, err error) {
	chunk, examined := max(limit, 32), 0
	for {
		n := min(chunk, budget-examined)
		batch, err := l.fetch(after, n)
		if err != nil {
			return nil, nil, err
		}
		for _, row := range batch {
			examined++
			after = l.cursor(row)
			ok, err := l.keep(row)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				if rows = append(rows, row); len(rows) == limit {
					return rows, after, nil
				}
			}
		}
		if len(batch) < n {
			return rows, nil, nil
		}
		if examined >= budget {
			return rows, after, nil
		}
		chunk = min(2*chunk, 1000)
	}
}
