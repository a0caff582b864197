package reliability

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Small, generated fixtures for the bad-input catalogue. Nothing here is
// real data.

func write(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func noiseImage(seed uint64, w, h int) image.Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(x * 4), uint8(y * 4), 255})
		}
	}
	return img
}

func pngBytes(t *testing.T, seed uint64) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, noiseImage(seed, 64, 48)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t *testing.T, seed uint64) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, noiseImage(seed, 64, 48), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNGHeader is a valid 1x1 PNG whose IHDR is rewritten to declare
// 100000 x 100000 pixels (a decompression-bomb header), CRC fixed.
func hugePNGHeader(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	// 8-byte signature, then IHDR: length(4) "IHDR"(4) width(4) height(4) ...(5) crc(4).
	binary.BigEndian.PutUint32(p[16:], 100000)
	binary.BigEndian.PutUint32(p[20:], 100000)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

// flickr8kDir writes a Flickr8k-shaped directory: the token file, the
// three split lists (every image in train) and Flicker8k_Dataset/ with the
// given files (nil content: listed but not written, i.e. missing).
func flickr8kDir(t *testing.T, dir string, images map[string][]byte, tokenExtra string) string {
	t.Helper()
	var names []string
	for n := range images {
		names = append(names, n)
	}
	sort.Strings(names)
	var tok, list strings.Builder
	for _, n := range names {
		list.WriteString(n + "\n")
		for k := range 5 {
			fmt.Fprintf(&tok, "%s#%d\ta %s picture number %d of shapes\n", n, k, []string{"red", "blue", "green", "small", "big"}[k], k)
		}
		if b := images[n]; b != nil {
			write(t, filepath.Join(dir, "Flicker8k_Dataset", n), b)
		}
	}
	tok.WriteString(tokenExtra)
	write(t, filepath.Join(dir, "Flickr8k.token.txt"), []byte(tok.String()))
	write(t, filepath.Join(dir, "Flickr_8k.trainImages.txt"), []byte(list.String()))
	write(t, filepath.Join(dir, "Flickr_8k.devImages.txt"), nil)
	write(t, filepath.Join(dir, "Flickr_8k.testImages.txt"), nil)
	os.MkdirAll(filepath.Join(dir, "Flicker8k_Dataset"), 0o755)
	return dir
}

// goodImages returns five decodable images named good0.png .. good4.jpg.
func goodImages(t *testing.T) map[string][]byte {
	m := map[string][]byte{}
	for i := range 5 {
		if i%2 == 0 {
			m[fmt.Sprintf("good%d.png", i)] = pngBytes(t, uint64(i))
		} else {
			m[fmt.Sprintf("good%d.jpg", i)] = jpegBytes(t, uint64(i))
		}
	}
	return m
}

// npyBytes writes a .npy v1.0 file with the given header fields and raw data.
func npyBytes(magic, descr string, fortran bool, shape []int, data []byte) []byte {
	f := "False"
	if fortran {
		f = "True"
	}
	var sh []string
	for _, d := range shape {
		sh = append(sh, fmt.Sprint(d))
	}
	st := strings.Join(sh, ", ")
	if len(shape) == 1 {
		st += ","
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr, f, st)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{1, 0})
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	b.Write(data)
	return b.Bytes()
}

// f32 returns n little-endian float32 values.
func f32(n int) []byte {
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(0x3f800000+i)) // around 1.0
	}
	return b
}

// precompDir writes a SCAN precomp train split: train_ims.npy (given
// bytes) and train_caps.txt with capLines lines.
func precompDir(t *testing.T, dir string, ims []byte, capLines int) string {
	t.Helper()
	write(t, filepath.Join(dir, "train_ims.npy"), ims)
	var b strings.Builder
	for i := range capLines {
		fmt.Fprintf(&b, "a small red square number %d on grass\n", i)
	}
	write(t, filepath.Join(dir, "train_caps.txt"), []byte(b.String()))
	return dir
}

// goodNpy is 3 images x 4 regions x 6 dims float32.
func goodNpy() []byte { return npyBytes("\x93NUMPY", "<f4", false, []int{3, 4, 6}, f32(72)) }

type entry struct {
	name, link string // link: symlink target (tar only)
	body       []byte
}

func zipBytes(t *testing.T, entries ...entry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarGzBytes(t *testing.T, entries ...entry) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Linkname: e.link, Mode: 0o777, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	gz.Write(b)
	gz.Close()
	return out.Bytes()
}

// conceptNetCSV is a few well-formed English ConceptNet 5 assertion lines
// followed by bad ones.
func conceptNetCSV(bad int) []byte {
	var b strings.Builder
	pairs := [][2]string{{"dog", "animal"}, {"cat", "animal"}, {"car", "vehicle"}, {"red", "color"}, {"grass", "plant"},
		{"ball", "toy"}, {"tree", "plant"}, {"bus", "vehicle"}}
	for _, p := range pairs {
		fmt.Fprintf(&b, "/a/[/r/IsA/,/c/en/%s/,/c/en/%s/]\t/r/IsA\t/c/en/%s\t/c/en/%s\t{\"dataset\": \"/d/test\", \"weight\": 1.0}\n", p[0], p[1], p[0], p[1])
	}
	for i := range bad {
		fmt.Fprintf(&b, "this line has no tabs %d\n", i)
	}
	return []byte(b.String())
}
