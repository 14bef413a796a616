// The Go peer for bench/fanout: gorilla/websocket, a topic index (exact, "prefix.*", "*"),
// each record encoded once as a complete server frame, and one writer goroutine per
// connection sending all its pending frames in one writev. It follows the same Redis stream
// as a Tributary cluster follower (XREAD with redigo).
//
// Usage: go_peer WS_PORT REDIS_PORT NAME [pubsub:CHANNEL:SUBJECT_FIELD]
// With pubsub:..., it is instead a hand-written push service: it subscribes to the channel and
// sends each JSON message as an update of event.<message[SUBJECT_FIELD]>, numbered per topic.
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
		if _, err := out.WriteTo(c.raw); err != nil { // writev
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

func serve(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, raw: ws.UnderlyingConn(), wake: make(chan struct{}, 1), done: make(chan struct{})}
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
		c.push(frame(ack))
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
				deliver(topic, frame([]byte(`{"type":"update","topic":`+string(t)+`,"record":`+rec+`}`)))
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
			deliver(topic, frame([]byte(`{"type":"update","topic":`+string(t)+`,"record":`+rec+`}`)))
		case error:
			fmt.Fprintln(os.Stderr, v)
			os.Exit(1)
		}
	}
}

func main() {
	port, redisPort, name := os.Args[1], os.Args[2], os.Args[3]
	if len(os.Args) > 4 && strings.HasPrefix(os.Args[4], "pubsub:") {
		parts := strings.SplitN(os.Args[4], ":", 3)
		go pubsub(redisPort, parts[1], parts[2])
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
