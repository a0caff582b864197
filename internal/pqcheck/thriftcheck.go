package pqcheck

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go's thrift decoder trusts the sizes it reads: a list or map
// header (five bytes) can say 2^31-1 elements, which it allocates before it
// reads one (a 22-byte file made `coderflow inspect` die with "fatal error:
// out of memory", which no recover catches), and a binary field's length is
// allocated before its bytes are read. checkThrift walks one compact-
// protocol struct without decoding it and rejects any length or count that
// does not fit in the bytes that remain, so that what parquet-go then
// allocates is bounded by a small multiple of the bytes it decodes; it also
// bounds the nesting depth, which parquet-go's skipping of unknown fields
// follows by recursion.

// maxThriftDepth bounds struct, list and map nesting (Parquet's metadata
// nests less than ten deep).
const maxThriftDepth = 64

// thriftReader reads at most left bytes from r.
type thriftReader struct {
	r    *bufio.Reader
	left int64
	// structs counts the struct elements of lists and maps: parquet-go
	// allocates each at its Go size (a ColumnChunk is 560 bytes) before
	// decoding it, and an empty one takes one byte.
	structs int64
}

// Bounds on the memory parquet-go allocates for the structs of lists and
// maps: structSize (more than any of Parquet's list element types takes)
// for each, at most maxStructRatio times the bytes they are decoded from
// plus maxStructFloor. A struct of a well-formed footer takes tens of
// bytes (a column chunk's metadata) or at least three (a schema element's
// name), within the ratio; 60,000 empty column chunks in a 60 KB footer
// would be 34 MB.
const (
	structSize     = 640
	maxStructRatio = 64
	maxStructFloor = 16 << 20
)

var errThriftShort = errors.New("runs past the end of its bytes")

func (t *thriftReader) byte() (byte, error) {
	if t.left <= 0 {
		return 0, errThriftShort
	}
	b, err := t.r.ReadByte()
	if err != nil {
		return 0, thriftEOF(err)
	}
	t.left--
	return b, nil
}

func (t *thriftReader) skip(n int64) error {
	if n < 0 || n > t.left {
		return errThriftShort
	}
	for n > 0 {
		k := int(min(n, 1<<20))
		d, err := t.r.Discard(k)
		t.left -= int64(d)
		n -= int64(d)
		if err != nil {
			return thriftEOF(err)
		}
	}
	return nil
}

func thriftEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return errThriftShort
	}
	return err
}

func (t *thriftReader) uvarint() (uint64, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		b, err := t.byte()
		if err != nil {
			return 0, err
		}
		x |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

// size reads a length or element count and checks that it fits in the
// bytes left: every element of a list or map takes at least one byte.
func (t *thriftReader) size(what string) (int64, error) {
	n, err := t.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(t.left) {
		return 0, fmt.Errorf("%s %d, but only %d bytes follow", what, n, t.left)
	}
	return int64(n), nil
}

// value skips one value of compact type typ.
func (t *thriftReader) value(typ byte, depth int, inList bool) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("nested more than %d deep", maxThriftDepth)
	}
	switch typ {
	case 1, 2: // BOOLEAN_TRUE, BOOLEAN_FALSE: in a struct field header; a byte in a list
		if inList {
			_, err := t.byte()
			return err
		}
		return nil
	case 3: // byte
		_, err := t.byte()
		return err
	case 4, 5, 6: // i16, i32, i64 (zigzag varints)
		_, err := t.uvarint()
		return err
	case 7: // double
		return t.skip(8)
	case 8: // binary
		n, err := t.size("binary length")
		if err != nil {
			return err
		}
		return t.skip(n)
	case 9, 10: // list, set
		h, err := t.byte()
		if err != nil {
			return err
		}
		n := int64(h >> 4)
		if n == 15 {
			if n, err = t.size("list size"); err != nil {
				return err
			}
		}
		if h&0x0f == 12 {
			t.structs += n
		}
		for i := int64(0); i < n; i++ {
			if err := t.value(h&0x0f, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		n, err := t.size("map size")
		if err != nil || n == 0 {
			return err
		}
		kv, err := t.byte()
		if err != nil {
			return err
		}
		if kv>>4 == 12 {
			t.structs += n
		}
		if kv&0x0f == 12 {
			t.structs += n
		}
		for i := int64(0); i < n; i++ {
			if err := t.value(kv>>4, depth+1, true); err != nil {
				return err
			}
			if err := t.value(kv&0x0f, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return t.structure(depth + 1)
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

// structure skips the fields of a struct up to its stop byte.
func (t *thriftReader) structure(depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("nested more than %d deep", maxThriftDepth)
	}
	for {
		h, err := t.byte()
		if err != nil {
			return err
		}
		if h == 0 {
			return nil
		}
		if h>>4 == 0 { // a field id that is not a delta: a zigzag i16
			if _, err := t.uvarint(); err != nil {
				return err
			}
		}
		if err := t.value(h&0x0f, depth, false); err != nil {
			return err
		}
	}
}

// checkThrift checks the compact-protocol struct at the start of r, of at
// most limit bytes, and returns its length.
func checkThrift(r io.Reader, limit int64) (int64, error) {
	t := &thriftReader{r: bufio.NewReaderSize(r, 4096), left: limit}
	if err := t.structure(0); err != nil {
		return 0, err
	}
	n := limit - t.left
	if t.structs*structSize > maxStructRatio*n+maxStructFloor {
		return 0, fmt.Errorf("%d structs in lists in %d bytes: too many to be well-formed", t.structs, n)
	}
	return n, nil
}

// checkMetadata checks the footer's thrift (see checkThrift) before
// parquet-go decodes it. checkMagic has checked that its length fits.
func checkMetadata(f io.ReaderAt, size int64) error {
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:]))
	off := size - 8 - n
	if _, err := checkThrift(io.NewSectionReader(f, off, n), n); err != nil {
		return fmt.Errorf("damaged Parquet footer (file metadata at offset %d, %d bytes): %w", off, n, err)
	}
	if err := checkSchema(io.NewSectionReader(f, off, n)); err != nil {
		return fmt.Errorf("unreadable Parquet schema: %w", err)
	}
	return nil
}

// maxPathSegments bounds the sum over the schema's elements of their
// depth: parquet-go reserves that many strings (16 bytes each) for the
// column paths before it checks the depth, so a 160 KB footer nesting
// 20,000 groups made it allocate 3 GB. 4M segments are 100,000 columns
// 40 deep.
const maxPathSegments = 1 << 22

// checkSchema decodes only the schema of the footer (checked by
// checkThrift) and rejects one nested deeper than parquet-go can represent
// or whose column paths would hold more than maxPathSegments names.
func checkSchema(r io.Reader) error {
	var md struct {
		Schema []format.SchemaElement `thrift:"2"`
	}
	if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(bufio.NewReader(r))).Decode(&md); err != nil {
		return err
	}
	var open []int32 // children still to come of each group the walk is in
	segments := 0
	for i := range md.Schema {
		if len(open) > parquet.MaxColumnDepth {
			return fmt.Errorf("schema element %d (%q) is nested %d deep, more than %d", i, md.Schema[i].Name, len(open), parquet.MaxColumnDepth)
		}
		if segments += len(open) + 1; segments > maxPathSegments {
			return fmt.Errorf("the schema's %d elements have column paths of more than %d names in all", len(md.Schema), maxPathSegments)
		}
		if n := md.Schema[i].NumChildren; n.Valid && n.V > 0 {
			open = append(open, n.V)
			continue
		}
		for len(open) > 0 {
			if open[len(open)-1]--; open[len(open)-1] > 0 {
				break
			}
			open = open[:len(open)-1]
		}
	}
	return nil
}

// Bounds on a page's uncompressed size, which parquet-go allocates before
// it decompresses: at most maxPageRatio times its compressed size, or
// maxPageFloor for pages that compress better (1 MB pages of one repeated
// value).
const (
	maxPageRatio = 1024
	maxPageFloor = 16 << 20
)

// maxPageValues bounds the values of a data page, for which parquet-go
// allocates levels and values before it decodes them (a header claiming
// 2^31-1 values in a 500-byte file cost 2.8 GB): a page of nulls or of
// one repeated value takes a few bytes for any count, so the count cannot
// be checked against the page's size. Writers cut pages at about 1 MB or
// 20,000 rows; more than 16M values in one page is refused, beyond one
// value per bit of the uncompressed page. A dictionary page's values are
// PLAIN-encoded, at least a bit each, so their count is checked against
// its size.
const maxPageValues = 1 << 24

// Pages checks the page headers of the column chunks of row group rg of
// the Parquet file f of size bytes (whose footer [Footer] has checked)
// before parquet-go reads them: each header's thrift (see checkThrift),
// and a compressed size that fits in its column chunk and an uncompressed
// size within the bounds above (parquet-go allocates both before it reads
// a byte of the page). It checks every page up to the chunk's end:
// parquet-go reads pages until it has the rows it wants, which value
// counts a damaged file misstates cannot say in advance.
func Pages(f io.ReaderAt, size int64, rg *format.RowGroup) error {
	return pages(f, size, rg, false)
}

// PagesAndCounts checks what [Pages] does, and that the page headers'
// counts agree with the footer's: the data pages of each column chunk hold
// the chunk's number of values (num_values, nulls included), which is at
// least the row group's number of rows (every row has a value or a NULL in
// every column), and a chunk of v2 data pages holds the row group's number
// of rows. parquet-go reads the values and rows the page headers say: a
// damaged count made up a row or dropped one without an error.
func PagesAndCounts(f io.ReaderAt, size int64, rg *format.RowGroup) error {
	return pages(f, size, rg, true)
}

func pages(f io.ReaderAt, size int64, rg *format.RowGroup, counts bool) error {
	for _, c := range rg.Columns {
		md := &c.MetaData
		col := strings.Join(md.PathInSchema, ".")
		base := md.DataPageOffset
		if md.DictionaryPageOffset != 0 {
			base = md.DictionaryPageOffset
		}
		if base < 0 || base >= size || md.TotalCompressedSize < 0 {
			return fmt.Errorf("column %s: column chunk at offset %d (%d bytes) is outside the file (%d bytes)", col, base, md.TotalCompressedSize, size)
		}
		end := size
		if md.TotalCompressedSize <= size-base {
			end = base + md.TotalCompressedSize
		}
		var values, rows int64 // in the chunk's data pages
		v1 := false            // a v1 data page, whose rows are not counted
		for pos := base; pos < end; {
			hl, err := checkThrift(io.NewSectionReader(f, pos, end-pos), end-pos)
			if err != nil {
				return fmt.Errorf("column %s: page header at offset %d: %w", col, pos, err)
			}
			hb := make([]byte, hl)
			if _, err := f.ReadAt(hb, pos); err != nil {
				return fmt.Errorf("column %s: page header at offset %d: %w", col, pos, err)
			}
			var h format.PageHeader
			if err := thrift.Unmarshal(new(thrift.CompactProtocol), hb, &h); err != nil {
				return fmt.Errorf("column %s: page header at offset %d: %w", col, pos, err)
			}
			pos += hl
			cs, us := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
			if cs < 0 || cs > end-pos {
				return fmt.Errorf("column %s: page at offset %d: compressed size %d runs past its column chunk (%d bytes left)", col, pos-hl, cs, end-pos)
			}
			if us < 0 || us > max(maxPageFloor, maxPageRatio*cs) {
				return fmt.Errorf("column %s: page at offset %d: uncompressed size %d for %d compressed bytes is not believable", col, pos-hl, us, cs)
			}
			var nv int64
			switch {
			case h.DictionaryPageHeader.Valid:
				if nv = int64(h.DictionaryPageHeader.V.NumValues); nv > 8*us+8 {
					return fmt.Errorf("column %s: dictionary page at offset %d: %d values cannot fit in its %d bytes", col, pos-hl, nv, us)
				}
			case h.DataPageHeader.Valid:
				nv = int64(h.DataPageHeader.V.NumValues)
				values += nv
				v1 = true
			case h.DataPageHeaderV2.Valid:
				nv = max(int64(h.DataPageHeaderV2.V.NumValues), int64(h.DataPageHeaderV2.V.NumRows))
				values += int64(h.DataPageHeaderV2.V.NumValues)
				rows += int64(h.DataPageHeaderV2.V.NumRows)
			}
			if nv > max(maxPageValues, 8*us) {
				return fmt.Errorf("column %s: page at offset %d: %d values in %d bytes, more than a page of a well-formed file holds (a damaged header?)", col, pos-hl, nv, us)
			}
			pos += cs
		}
		if !counts {
			continue
		}
		switch {
		case values != md.NumValues:
			return fmt.Errorf("column %s: the pages of the column chunk at offset %d hold %d values, the footer says %d", col, base, values, md.NumValues)
		case values < rg.NumRows:
			return fmt.Errorf("column %s: the column chunk at offset %d holds %d values, fewer than the row group's %d rows", col, base, values, rg.NumRows)
		case !v1 && rows != rg.NumRows:
			return fmt.Errorf("column %s: the pages of the column chunk at offset %d hold %d rows, the footer says the row group has %d", col, base, rows, rg.NumRows)
		}
	}
	return nil
}
