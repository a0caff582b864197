package pqcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Footer checks the Parquet file f of size bytes before parquet.OpenFile
// reads it: the PAR1 magic at both ends (saying what is wrong with a file
// that is not Parquet, was cut short or is encrypted), a footer length
// that fits in the file (parquet-go allocates it, up to 4 GB, before
// reading), and the footer's thrift and schema (see checkThrift and
// checkSchema).
func Footer(f io.ReaderAt, size int64) error {
	if err := checkMagic(f, size); err != nil {
		return err
	}
	return checkMetadata(f, size)
}

// checkMagic says what is wrong with a file that is not Parquet (no PAR1
// magic at its start or end) or was cut short, and rejects a footer length
// that does not fit in the file before parquet-go allocates a buffer of
// that length (up to 4 GB for a damaged file).
func checkMagic(f io.ReaderAt, size int64) error {
	var head [4]byte
	if size >= 4 {
		if _, err := f.ReadAt(head[:], 0); err != nil {
			return fmt.Errorf("not a readable Parquet file: %w", err)
		}
	}
	if size < 12 {
		if size >= 4 && string(head[:]) != "PAR1" {
			return errors.New("not a Parquet file (it does not start with the PAR1 magic)")
		}
		return fmt.Errorf("not a readable Parquet file: %d bytes is too short for one", size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	okHead, okTail := string(head[:]) == "PAR1", string(tail[4:]) == "PAR1"
	switch {
	case string(head[:]) == "PARE" || string(tail[4:]) == "PARE":
		return errors.New("an encrypted Parquet file (PARE magic), which coderflow cannot read")
	case !okHead && !okTail:
		return errors.New("not a Parquet file (it neither starts nor ends with the PAR1 magic)")
	case !okHead:
		return errors.New("not a Parquet file, or a corrupted one: it does not start with the PAR1 magic")
	case !okTail:
		return errors.New("a truncated or corrupted Parquet file: it starts with the PAR1 magic but does not end with it (an interrupted write or copy?)")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return fmt.Errorf("not a readable Parquet file: footer length %d does not fit in the file (%d bytes): truncated or corrupted", n, size)
	}
	return nil
}

// File checks the whole structure of the Parquet file f of size bytes
// that a reader trusts before it decodes pages: the footer ([Footer]), and
// the page headers of every row group against their column chunks and the
// footer's counts ([PagesAndCounts]). For readers that get no row-group
// hook, such as arrow-go's pqarrow (whose page reader allocates without
// end on some damaged page headers: datasets/arrowfeat's FuzzTokensReader).
func File(f io.ReaderAt, size int64) error {
	if err := Footer(f, size); err != nil {
		return err
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4])) // Footer checked that it fits
	b := make([]byte, n)
	if _, err := f.ReadAt(b, size-8-n); err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, &md); err != nil {
		return fmt.Errorf("corrupt Parquet footer: %w", err)
	}
	for g := range md.RowGroups {
		if err := PagesAndCounts(f, size, &md.RowGroups[g]); err != nil {
			return fmt.Errorf("row group %d: %w", g, err)
		}
	}
	return nil
}
