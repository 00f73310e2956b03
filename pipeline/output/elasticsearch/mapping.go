package elasticsearch

import (
	"sort"
	"strings"
)

// Field is one explicitly mapped field: its dotted name and Elasticsearch
// type. ECS fields use ECS's type (a test checks them against ECS 9.4.0);
// the others are mamori.* or Packetbeat's flow.*.
type Field struct {
	Name string
	Type string
}

// Fields lists every field mamori maps explicitly. A record type that adds
// a field adds it here; TestGoldenFieldsAreMapped fails otherwise.
var Fields = buildFields()

func buildFields() []Field {
	var fs []Field
	add := func(typ string, names ...string) {
		for _, n := range names {
			fs = append(fs, Field{n, typ})
		}
	}
	kw := func(prefix string, names ...string) {
		for _, n := range names {
			add("keyword", prefix+n)
		}
	}
	add("date", "@timestamp")
	add("match_only_text", "message")
	add("keyword", "tags", "ecs.version")
	add("constant_keyword", "data_stream.type", "data_stream.dataset", "data_stream.namespace")

	kw("event.", "kind", "category", "type", "action", "outcome", "reason", "dataset", "module", "id", "code", "provider", "reference", "url", "hash", "timezone")
	add("date", "event.start", "event.end", "event.created", "event.ingested")
	add("long", "event.duration", "event.severity", "event.sequence")
	add("float", "event.risk_score", "event.risk_score_norm")
	add("keyword", "event.original") // not indexed: see mappingFor

	for _, ep := range []string{"source.", "destination.", "client.", "server."} {
		add("ip", ep+"ip", ep+"nat.ip")
		add("long", ep+"port", ep+"bytes", ep+"packets", ep+"nat.port", ep+"as.number")
		kw(ep, "mac", "address", "domain", "registered_domain", "top_level_domain", "subdomain",
			"as.organization.name", "geo.country_iso_code", "geo.country_name", "geo.city_name", "geo.region_name", "geo.continent_name", "user.name", "user.domain")
		add("geo_point", ep+"geo.location")
	}
	kw("network.", "transport", "type", "iana_number", "protocol", "application", "community_id", "direction", "name", "vlan.id", "vlan.name", "inner.vlan.id", "inner.vlan.name")
	add("long", "network.bytes", "network.packets")
	add("ip", "network.forwarded_ip")
	add("keyword", "flow.id")
	add("boolean", "flow.final")
	add("long", "flow.vlan")
	add("ip", "related.ip")
	kw("related.", "hosts", "user", "hash")

	kw("observer.", "type", "vendor", "product", "version", "name", "hostname", "serial_number", "mac",
		"ingress.interface.name", "ingress.interface.alias", "ingress.interface.id", "ingress.vlan.id",
		"egress.interface.name", "egress.vlan.id")
	add("ip", "observer.ip")
	kw("host.", "name", "hostname", "id", "mac")
	add("ip", "host.ip")

	kw("rule.", "id", "name", "ruleset", "category", "version", "uuid", "description", "reference", "author", "license")
	kw("threat.", "framework", "tactic.id", "tactic.name", "tactic.reference", "technique.id", "technique.name", "technique.reference",
		"technique.subtechnique.id", "technique.subtechnique.name", "technique.subtechnique.reference")

	kw("dns.", "id", "op_code", "type", "header_flags", "response_code", "question.name", "question.type", "question.class",
		"question.registered_domain", "question.subdomain", "question.top_level_domain",
		"answers.name", "answers.type", "answers.class", "answers.data")
	add("long", "dns.answers.ttl")
	add("ip", "dns.resolved_ip")

	kw("tls.", "version", "version_protocol", "cipher", "curve", "next_protocol",
		"client.server_name", "client.ja3", "client.supported_ciphers", "client.subject", "client.issuer",
		"client.hash.md5", "client.hash.sha1", "client.hash.sha256",
		"server.ja3s", "server.subject", "server.issuer", "server.hash.md5", "server.hash.sha1", "server.hash.sha256",
		"server.x509.subject.common_name", "server.x509.issuer.common_name", "server.x509.serial_number", "server.x509.alternative_names")
	add("boolean", "tls.established", "tls.resumed")
	add("date", "tls.server.not_before", "tls.server.not_after", "tls.server.x509.not_before", "tls.server.x509.not_after")

	kw("http.", "version", "request.method", "request.id", "request.mime_type", "request.referrer", "response.mime_type")
	add("keyword", "tls.client.ja4") // not ECS 9.4; the TLS parser writes it beside ja3
	add("long", "http.request.bytes", "http.request.body.bytes", "http.response.status_code", "http.response.bytes", "http.response.body.bytes")
	add("wildcard", "url.original", "url.full", "url.path")
	kw("url.", "domain", "query", "scheme", "extension", "username")
	add("long", "url.port")
	kw("user_agent.", "original", "name", "version")
	kw("user.", "name", "domain", "id", "email", "full_name")
	kw("file.", "name", "path", "directory", "extension", "type", "mime_type", "hash.md5", "hash.sha1", "hash.sha256")
	add("long", "file.size")
	add("keyword", "error.type", "error.code", "error.id")
	add("match_only_text", "error.message")

	// mamori's own fields (no ECS equivalent).
	kw("mamori.flow.", "conn_state", "history", "tunnel")
	add("boolean", "mamori.flow.cut_off")
	kw("mamori.dns.", "anomalies", "variant")
	add("long", "mamori.dns.additionals_count", "mamori.dns.answers_count", "mamori.dns.authorities_count", "mamori.dns.retransmissions")
	kw("mamori.tls.", "ja4", "ja4s", "ja4_r", "ja3_string", "client.extensions", "client.signature_algorithms", "client.version", "server.certificate")
	kw("mamori.rdp.", "cookie", "result", "security_protocol", "requested_protocols", "keyboard_layout", "client.build", "client.name",
		"client.product_id", "color_depth", "cert.type", "encryption.level", "encryption.method")
	add("long", "mamori.rdp.desktop.width", "mamori.rdp.desktop.height", "mamori.rdp.cert.count")
	add("boolean", "mamori.rdp.cert.permanent", "mamori.rdp.tls")
	kw("mamori.smb.", "version", "command", "status", "share", "share_type", "action", "session_id", "access", "auth",
		"create_action", "dialect", "dialects", "disposition", "workstation")
	add("long", "mamori.smb.tree_id", "mamori.smb.message_id", "mamori.smb.bytes_read", "mamori.smb.bytes_written",
		"mamori.smb.opens", "mamori.smb.reads", "mamori.smb.writes")
	kw("mamori.ntlm.", "hostname", "domain", "status", "server.dns_name", "server.netbios_name", "server.name.tree",
		"target_name", "transport", "version", "workstation")
	add("boolean", "mamori.ntlm.success")
	kw("mamori.alert.", "id", "key", "message_ja", "severity", "pcap.command", "pcap.query",
		"evidence.community_ids", "evidence.flow_ids", "evidence.targets", "evidence.facts.name", "evidence.facts.value")
	add("long", "mamori.alert.update", "mamori.alert.evidence.count", "mamori.alert.evidence.target_count", "mamori.alert.evidence.ports")
	add("date", "mamori.alert.evidence.first", "mamori.alert.evidence.last", "mamori.alert.pcap.from", "mamori.alert.pcap.to")
	kw("mamori.deadletter.", "index", "id")
	add("long", "mamori.deadletter.status")

	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

// FieldType returns the mapped type of a dotted field name, or "".
func FieldType(name string) string {
	i := sort.Search(len(Fields), func(i int) bool { return Fields[i].Name >= name })
	if i < len(Fields) && Fields[i].Name == name {
		return Fields[i].Type
	}
	return ""
}

// mappingFor is the mapping of one field.
func mappingFor(f Field) map[string]any {
	m := map[string]any{"type": f.Type}
	switch {
	case f.Name == "event.original":
		m["index"], m["doc_values"] = false, false
	case f.Type == "keyword" && f.Name != "event.original":
		m["ignore_above"] = 1024
	}
	return m
}

// properties builds the nested "properties" object of a mapping.
func properties(fs []Field) map[string]any {
	root := map[string]any{}
	for _, f := range fs {
		parts := strings.Split(f.Name, ".")
		node := root
		for _, p := range parts[:len(parts)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				child = map[string]any{"properties": map[string]any{}}
				node[p] = child
			}
			node = child["properties"].(map[string]any)
		}
		node[parts[len(parts)-1]] = mappingFor(f)
	}
	return root
}
