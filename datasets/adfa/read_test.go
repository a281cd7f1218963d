package adfa

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []int
		err  bool
	}{
		{"trailing space", "6 42 120 ", []int{6, 42, 120}, false},
		{"newline", "195 252\n", []int{195, 252}, false},
		{"empty", "", []int{}, false},
		{"letters", "6 x", nil, true},
		{"negative", "6 -1", nil, true},
		{"too large", "6 99999", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("6 42 120 "))
	f.Add([]byte("1\n2\r\n3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		calls, err := Parse(b)
		if err != nil {
			return
		}
		for _, c := range calls {
			if c < 0 || c >= MaxSyscall {
				t.Fatalf("call %d out of range", c)
			}
		}
	})
}

func TestFamily(t *testing.T) {
	for in, want := range map[string]string{
		"Hydra_FTP_3": "Hydra_FTP", "Adduser_10": "Adduser", "Web_Shell": "Web_Shell", "x": "x",
	} {
		require.Equal(t, want, Family(in), in)
	}
}

func TestReadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"Training_Data_Master/UTD-0002.txt":              {Data: []byte("3 4 ")},
		"Training_Data_Master/UTD-0001.txt":              {Data: []byte("1 2 ")},
		"Validation_Data_Master/UVD-0001.txt":            {Data: []byte("5 ")},
		"Attack_Data_Master/Hydra_FTP_2/UAD-Hydra-1.txt": {Data: []byte("7 8")},
		"Attack_Data_Master/Adduser_1/UAD-Adduser-1.txt": {Data: []byte("9")},
		"Attack_Data_Master/README":                      {Data: []byte("not a folder")},
	}
	s, err := ReadFS(fsys, "mem")
	require.NoError(t, err)
	require.Len(t, s.Training, 2)
	require.Equal(t, []int{1, 2}, s.Training[0].Calls, "files are read in lexical order")
	require.Len(t, s.Validation, 1)
	require.Len(t, s.Attack, 2)
	require.Equal(t, "Adduser", s.Attack[0].Family)
	require.Equal(t, "Hydra_FTP", s.Attack[1].Family)

	delete(fsys, "Validation_Data_Master/UVD-0001.txt")
	_, err = ReadFS(fsys, "mem")
	require.ErrorContains(t, err, "no Validation_Data_Master folder")

	fsys["Validation_Data_Master/UVD-0001.txt"] = &fstest.MapFile{Data: []byte("5 z")}
	_, err = ReadFS(fsys, "mem")
	require.ErrorContains(t, err, "UVD-0001.txt")
}

// SharedDir is the development subset, beside the repository in a checkout
// of the project workspace.
func sharedDir(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "shared", "datasets", "adfa-ld")
	if _, err := os.Stat(filepath.Join(dir, TrainingDir)); err != nil {
		t.Skipf("ADFA-LD development subset not found at %s: place an ADFA-LD directory there to run this test", dir)
	}
	return dir
}

func TestReadShared(t *testing.T) {
	s, err := Read(sharedDir(t))
	require.NoError(t, err)
	require.Len(t, s.Training, 833)
	require.Len(t, s.Validation, 2186)
	require.Len(t, s.Attack, 553)
	fam := map[string]int{}
	for _, tr := range s.Attack {
		fam[tr.Family]++
		require.NotEmpty(t, tr.Calls)
	}
	require.Equal(t, map[string]int{"Adduser": 91, "Hydra_FTP": 162, "Hydra_SSH": 176, "Java_Meterpreter": 124}, fam)
}
