// The Go peer for bench/fanout: gorilla/websocket, a topic index (exact, "prefix.*", "*"),
// each record encoded once as a complete server frame, and one writer goroutine per
// connection sending all its pending frames in one writev. It follows the same Redis stream
// as a Tributary cluster follower (XREAD with redigo).
//
// Usage: go_peer WS_PORT REDIS_PORT NAME [pubsub:CHANNEL:SUBJECT_FIELD] [deflate] [view:NAME:OUT=TOPIC:FIELD,...]
// With pubsub:..., it is instead a hand-written push service: it subscribes to the channel and
// sends each JSON message as an update of event.<message[SUBJECT_FIELD]>, numbered per topic.
// With deflate, it negotiates permessage-deflate (gorilla's EnableCompression) and each
// connection's writer compresses every message for itself (WriteMessage), as gorilla does.
// With view:..., it also publishes view.NAME, a flat object of fields of the latest records of
// some topics, whenever that object changes (what Tributary's [views.NAME] does).
// Built offline in GOPATH mode from Debian's packages (bench/fanout/run.py does it):
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o go_peer bench/fanout/go_peer/main.go
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/websocket"
)

type conn struct {
	ws      *websocket.Conn
	raw     net.Conn
	mu      sync.Mutex
	pending net.Buffers
	wake    chan struct{}
	done    chan struct{}
	stamp   uint64 // last record delivered (the stream goroutine only)
	subs    []string
}

type index struct {
	mu     sync.RWMutex
	exact  map[string]map[*conn]struct{}
	prefix map[string]map[*conn]struct{}
	all    map[*conn]struct{}
}

var ix = index{exact: map[string]map[*conn]struct{}{}, prefix: map[string]map[*conn]struct{}{}, all: map[*conn]struct{}{}}

func (x *index) add(c *conn, t string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case t == "*":
		x.all[c] = struct{}{}
	case strings.HasSuffix(t, ".*"):
		k := t[:len(t)-1]
		if x.prefix[k] == nil {
			x.prefix[k] = map[*conn]struct{}{}
		}
		x.prefix[k][c] = struct{}{}
	default:
		if x.exact[t] == nil {
			x.exact[t] = map[*conn]struct{}{}
		}
		x.exact[t][c] = struct{}{}
	}
}

func (x *index) remove(c *conn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.all, c)
	for _, t := range c.subs {
		if strings.HasSuffix(t, ".*") {
			delete(x.prefix[t[:len(t)-1]], c)
		} else {
			delete(x.exact[t], c)
		}
	}
}

// frame makes an unmasked server text frame around payload.
func frame(payload []byte) []byte {
	n := len(payload)
	var h []byte
	switch {
	case n < 126:
		h = []byte{0x81, byte(n)}
	case n < 65536:
		h = []byte{0x81, 126, 0, 0}
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h = make([]byte, 10)
		h[0], h[1] = 0x81, 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	return append(h, payload...)
}

func (c *conn) push(f []byte) {
	c.mu.Lock()
	c.pending = append(c.pending, f)
	first := len(c.pending) == 1
	c.mu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *conn) writer() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		out := c.pending
		c.pending = nil
		c.mu.Unlock()
		if len(out) == 0 {
			continue
		}
		if compress {
			if c.writeCompressed(out) != nil {
				return
			}
		} else if _, err := out.WriteTo(c.raw); err != nil { // writev
			return
		}
	}
}

var stamp uint64

func deliver(topic string, f []byte) {
	stamp++
	send := func(set map[*conn]struct{}) {
		for c := range set {
			if c.stamp != stamp {
				c.stamp = stamp
				c.push(f)
			}
		}
	}
	ix.mu.RLock()
	send(ix.all)
	send(ix.exact[topic])
	for i := strings.IndexByte(topic, '.'); i >= 0; {
		send(ix.prefix[topic[:i+1]])
		j := strings.IndexByte(topic[i+1:], '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	ix.mu.RUnlock()
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: false}

// compress: pending holds messages, and the writer sends each through gorilla's compressor.
var compress bool

// message is what a connection's queue holds for one server message: a whole frame, or with
// compress the payload alone.
func message(payload []byte) []byte {
	if compress {
		return payload
	}
	return frame(payload)
}

func (c *conn) writeCompressed(out net.Buffers) error {
	for _, p := range out {
		if err := c.ws.WriteMessage(websocket.TextMessage, p); err != nil {
			return err
		}
	}
	return nil
}

type viewField struct{ out, topic, field string }

type view struct {
	name     string
	fields   []viewField
	values   map[string]json.RawMessage
	received int64
	seq      uint64
}

var dash *view

func parseView(spec string) *view {
	parts := strings.SplitN(spec, ":", 3)
	v := &view{name: parts[1], values: map[string]json.RawMessage{}}
	for _, f := range strings.Split(parts[2], ",") {
		eq := strings.IndexByte(f, '=')
		colon := strings.LastIndexByte(f, ':')
		v.fields = append(v.fields, viewField{f[:eq], f[eq+1 : colon], f[colon+1:]})
	}
	return v
}

// update takes a record of topic; it returns the view's message when its object changed.
func (v *view) update(topic, rec string) []byte {
	var r struct {
		Received int64                      `json:"received"`
		Data     map[string]json.RawMessage `json:"data"`
	}
	changed := false
	for _, f := range v.fields {
		if f.topic != topic {
			continue
		}
		if r.Data == nil && json.Unmarshal([]byte(rec), &r) != nil {
			return nil
		}
		if val, ok := r.Data[f.field]; ok && string(val) != string(v.values[f.out]) {
			v.values[f.out], changed = val, true
		}
	}
	if !changed {
		return nil
	}
	if r.Received > v.received {
		v.received = r.Received
	}
	v.seq++
	var b strings.Builder
	for _, f := range v.fields {
		if val, ok := v.values[f.out]; ok {
			fmt.Fprintf(&b, `"%s":%s,`, f.out, val)
		}
	}
	t := "view." + v.name
	rec2 := fmt.Sprintf(`{"schema":"tributary.v1","topic":"%s","kind":"view","subject":"%s","source":"view","feed":"view","ts":%d,"received":%d,"seq":%d,"stale":false,"data":{%s"stale":false,"updated_at":%d}}`,
		t, v.name, v.received, v.received, v.seq, b.String(), v.received)
	return []byte(`{"type":"update","topic":"` + t + `","record":` + rec2 + `}`)
}

func serve(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, raw: ws.UnderlyingConn(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	ws.EnableWriteCompression(compress)
	go c.writer()
	defer func() {
		ix.remove(c)
		close(c.done)
		ws.Close()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var msg struct {
			Type   string   `json:"type"`
			Topics []string `json:"topics"`
		}
		if json.Unmarshal(data, &msg) != nil || msg.Type != "subscribe" {
			continue
		}
		for _, t := range msg.Topics {
			c.subs = append(c.subs, t)
			ix.add(c, t)
		}
		ack, _ := json.Marshal(map[string]interface{}{"type": "subscribed", "topics": msg.Topics})
		c.push(message(ack))
	}
}

func follow(redisPort, name string) {
	rc, err := redis.Dial("tcp", "127.0.0.1:"+redisPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	key, id := "tributary:"+name+":stream", "$"
	for {
		reply, err := redis.Values(rc.Do("XREAD", "COUNT", 500, "BLOCK", 1000, "STREAMS", key, id))
		if err == redis.ErrNil {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, s := range reply {
			entries, _ := redis.Values(s.([]interface{})[1], nil)
			for _, e := range entries {
				kv := e.([]interface{})
				id = string(kv[0].([]byte))
				fields, _ := redis.StringMap(kv[1], nil)
				topic, rec := fields["topic"], fields["record"]
				t, _ := json.Marshal(topic)
				deliver(topic, message([]byte(`{"type":"update","topic":`+string(t)+`,"record":`+rec+`}`)))
				if dash != nil {
					if m := dash.update(topic, rec); m != nil {
						deliver("view."+dash.name, message(m))
					}
				}
			}
		}
	}
}

func pubsub(redisPort, channel, field string) {
	rc, err := redis.Dial("tcp", "127.0.0.1:"+redisPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	psc := redis.PubSubConn{Conn: rc}
	if err := psc.Subscribe(channel); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	seqs := map[string]uint64{}
	for {
		switch v := psc.Receive().(type) {
		case redis.Message:
			var msg map[string]interface{}
			if json.Unmarshal(v.Data, &msg) != nil {
				continue
			}
			subject, ok := msg[field].(string)
			if !ok {
				continue
			}
			topic := "event." + subject
			seqs[topic]++
			t, _ := json.Marshal(topic)
			rec := `{"topic":` + string(t) + `,"kind":"event","seq":` + fmt.Sprint(seqs[topic]) + `,"data":` + string(v.Data) + `}`
			deliver(topic, message([]byte(`{"type":"update","topic":`+string(t)+`,"record":`+rec+`}`)))
		case error:
			fmt.Fprintln(os.Stderr, v)
			os.Exit(1)
		}
	}
}

func main() {
	port, redisPort, name := os.Args[1], os.Args[2], os.Args[3]
	var channel []string
	for _, a := range os.Args[4:] {
		switch {
		case strings.HasPrefix(a, "pubsub:"):
			channel = strings.SplitN(a, ":", 3)
		case a == "deflate":
			compress = true
			upgrader.EnableCompression = true
		case strings.HasPrefix(a, "view:"):
			dash = parseView(a)
		}
	}
	if channel != nil {
		go pubsub(redisPort, channel[1], channel[2])
	} else {
		go follow(redisPort, name)
	}
	http.HandleFunc("/", serve)
	fmt.Println("ready")
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
