/* exhunt: reGeorg / Tunna style HTTP-to-socket tunnels written as ASPX pages. Written for exhunt. */

rule EXH_Tunnel_Socket_Page
{
    meta:
        id = "EXH-YARA-SOCKET-TUNNEL"
        title = "HTTP socket tunnel page (reGeorg / Tunna style)"
        description = "A server page that opens TCP sockets to a host and port named by the request and relays data through HTTP, driven by command headers or session-held sockets. Used to pivot from the Exchange server into the network."
        attack = "T1505.003,T1090.001,T1572"
        family = "socket-tunnel"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $sock1 = "new Socket(" nocase
        $sock2 = "System.Net.Sockets" nocase
        $hdr_cmd = "X-CMD" ascii
        $hdr_status = "X-STATUS" ascii
        $hdr_target = "X-TARGET" ascii
        $hdr_port = "X-PORT" ascii
        $hdr_error = "X-ERROR" ascii
        $sess_sock1 = "Session[\"socket\"]" nocase
        $sess_sock2 = "Session[\"sock\"]" nocase
        $req_port = "[\"port\"]" nocase
        $req_host1 = "[\"ip\"]" nocase
        $req_host2 = "[\"host\"]" nocase
        $req_host3 = "[\"target\"]" nocase
    condition:
        any of ($sock*) and (3 of ($hdr_*) or (any of ($sess_sock*) and $req_port and any of ($req_host*)))
}
