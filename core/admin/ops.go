package admin

import "github.com/zabkit/zabkit/core/proto/jute"

// OpName is the short operation name ZooKeeper shows as "lop" in cons
// (its FinalRequestProcessor's names). The node records it per
// connection when it sends a reply; unknown opcodes give "NA".
func OpName(op int32) string {
	switch op {
	case jute.OpPing:
		return "PING"
	case jute.OpCreateSession:
		return "SESS"
	case jute.OpMulti:
		return "MULT"
	case jute.OpMultiRead:
		return "MLTR"
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		return "CREA"
	case jute.OpDelete, jute.OpDeleteContainer:
		return "DELE"
	case jute.OpSetData:
		return "SETD"
	case jute.OpReconfig:
		return "RECO"
	case jute.OpSetACL:
		return "SETA"
	case jute.OpCloseSession:
		return "CLOS"
	case jute.OpSync:
		return "SYNC"
	case jute.OpCheck:
		return "CHEC"
	case jute.OpExists:
		return "EXIS"
	case jute.OpGetData:
		return "GETD"
	case jute.OpSetWatches:
		return "SETW"
	case jute.OpSetWatches2:
		return "STW2"
	case jute.OpAddWatch:
		return "ADDW"
	case jute.OpGetACL:
		return "GETA"
	case jute.OpGetChildren, jute.OpGetChildren2:
		return "GETC"
	case jute.OpGetAllChildrenNumber:
		return "GETACN"
	case jute.OpCheckWatches:
		return "CHKW"
	case jute.OpRemoveWatches:
		return "REMW"
	case jute.OpWhoAmI:
		return "HOMI"
	case jute.OpGetEphemerals:
		return "GETE"
	}
	return "NA"
}
