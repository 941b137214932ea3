package confload

import "testing"

func TestSmoke(t *testing.T) {
	r, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %v", *r.Config, r.Warnings)
}
