/* exhunt: reGeorg / Tunna style HTTP-to-socket tunnels written as ASPX pages. Written for exhunt. */

/* Shared markers as private rules: referenced by the rules below, never reported alone. Each is
   defined once per file, because a pattern repeated in every rule is searched once per rule. */

private rule EXH_Tunnels_Server_Page
{
    strings:
        $page = "<%@" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Tunnels_Request_Value
{
    strings:
        $item = "Request[" nocase
        $form = "Request.Form" nocase
        $query = "Request.QueryString" nocase
        $item2 = "Request.Item" nocase
        $params = "Request.Params" nocase
        $cookies = "Request.Cookies" nocase
        $headers = "Request.Headers" nocase
        $vb1 = "Request(\"" nocase
        $vb2 = "Request('" nocase
    condition:
        any of them
}

private rule EXH_Tunnels_Control_Value
{
    strings:
        $value = /\.(Text|Value)\b/
    condition:
        $value
}

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
        // a socket kept in the session (or application state) between requests, with the target taken from the request
        $sess_cast = /\(\s{0,4}Socket\s{0,4}\)\s{0,4}([A-Za-z_][A-Za-z0-9_]{0,20}\.){0,2}(Session|Application|Cache)\s{0,4}\[/
        $connect = /\.\s{0,4}(Connect|BeginConnect)\s{0,4}\(/
    condition:
        any of ($sock*) and (3 of ($hdr_*) or (any of ($sess_sock*) and $req_port and any of ($req_host*)) or
                             ($sess_cast and $connect and EXH_Tunnels_Request_Value))
}

rule EXH_Packet_Sniffer_Page
{
    meta:
        id = "EXH-YARA-PACKET-SNIFFER"
        title = "Server page captures network traffic (raw socket in promiscuous mode)"
        description = "A server page opens a raw IP socket and switches it to receive all packets (IOControlCode.ReceiveAll / SIO_RCVALL), capturing the server's traffic (passwords in FTP, SMTP, HTTP posts). Web shell toolkits carry such sniffer pages; web applications never need one."
        attack = "T1505.003,T1040"
        family = "sniffer"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $raw = /SocketType\s{0,4}\.\s{0,4}Raw\b/
        $rcvall1 = "ReceiveAll" ascii
        $rcvall2 = "SIO_RCVALL" ascii
        $iocontrol = /\.\s{0,4}IOControl\s{0,4}\(/
    condition:
        EXH_Tunnels_Server_Page and $raw and $iocontrol and any of ($rcvall*)
}

rule EXH_Port_Scanner_Page
{
    meta:
        id = "EXH-YARA-PORT-SCANNER"
        title = "Server page scans ports: connects in a loop to hosts and port lists from the request"
        description = "A server page splits a list of ports (or a range) taken from the request or a form control and tries a TCP connection to each: a port scanner run from the web server into the internal network. A connectivity check tries one fixed endpoint; it does not walk a port list."
        attack = "T1505.003,T1046"
        family = "recon"
        step = "webshell-write"
        severity = "medium"
        confidence = "medium"
    strings:
        $tcp1 = "TcpClient" ascii
        $tcp2 = "new Socket(" ascii
        $connect = /\.\s{0,4}(Connect|BeginConnect|ConnectAsync)\s{0,4}\(/
        $split = /\.\s{0,4}Split\s{0,4}\(\s{0,4}(new\s{1,4}char\s{0,4}\[\s{0,4}\]\s{0,4}\{\s{0,4})?'[,\-]'/
        $loop1 = "foreach" ascii
        $loop2 = "for (" ascii
        $loop3 = "for(" ascii
    condition:
        EXH_Tunnels_Server_Page and any of ($tcp*) and $connect and $split and any of ($loop*) and (EXH_Tunnels_Request_Value or EXH_Tunnels_Control_Value)
}
