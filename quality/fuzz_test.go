package quality

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzRulesJSON(f *testing.F) {
	seeds := []string{
		`[{"rule":"not_null","field":"email"},{"rule":"range","field":"amount","min":0},
		 {"rule":"regex","field":"email","pattern":"^[^@]+@[^@]+$"},{"rule":"allowed_values","field":"country","values":["DE","FR"]},
		 {"rule":"max_length","field":"name","max":64},{"rule":"unique_in_batch","field":"id"}]`,
		`[{"rule":"range","field":"address.zip","min":1000,"max":99999,"message":"bad zip"}]`,
		`[{"rule":"allowed_values","field":"id","values":[1,2.5,"x",true,null,[1]]}]`,
		`[{"rule":"allowed_values","field":"count","values":[1e400]}]`,
		`[{"rule":"regex","field":"name","pattern":"(a+)+$"},{"id":"x","rule":"regex","field":"name","pattern":"(("}]`,
		`[{"rule":"max_length","field":"payload","max":1.5},{"rule":"range","field":"ratio","min":5,"max":1}]`,
		`[{"rule":"unique_in_batch","field":"address"},{"rule":"not_null","field":"tags.element"}]`,
		`[{"rule":"","field":""},{}]`,
		`{"rule":"not_null"}`,
		`[]`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	records := decodeRecords(f, `[
		{"id":1,"email":"a@b.c","amount":"12.50","country":"DE","name":"Ann","count":3,"ratio":0.5,"active":true,
		 "address":{"city":"Berlin","zip":10115},"tags":["a"],"payload":"AAEC"},
		{"id":1,"email":null,"amount":-1e400,"country":7,"name":"äöü","count":"x","ratio":"1e-9999","active":"yes",
		 "address":"flat","tags":null,"payload":12},
		{"id":"1","email":["x"],"amount":{"v":1},"country":"FR","count":1.5,"address":{"city":null,"zip":"0x10"}},
		{}
	]`, true)
	floatRecords := decodeRecords(f, `[{"id":1.5,"amount":1e308,"count":-0},{"id":1.5,"amount":5e-324}]`, false)

	f.Fuzz(func(t *testing.T, data []byte) {
		var rules []Rule
		if json.Unmarshal(data, &rules) != nil {
			return
		}
		validErr := Validate(rules, testFieldType)
		c, compileErr := Compile(rules)
		if validErr != nil {
			var verr *ValidationError
			require.ErrorAs(t, validErr, &verr)
			require.NotEmpty(t, verr.Problems)
			return
		}
		require.NoError(t, compileErr, "rules valid against the schema must compile")
		for _, batch := range [][]map[string]any{records, floatRecords} {
			for _, v := range c.Check(batch) {
				require.GreaterOrEqual(t, v.Index, 0)
				require.Less(t, v.Index, len(batch))
				require.NotEmpty(t, v.Rule)
				require.NotEmpty(t, v.Reason)
			}
		}
	})
}
