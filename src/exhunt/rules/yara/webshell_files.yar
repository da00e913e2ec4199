/* exhunt: pages that write files where the request says, drop other server pages, or probe which
   folders they can write to. Written for exhunt. */

/* Shared markers as private rules: referenced by the rules below, never reported alone. Each is
   defined once per file, because a pattern repeated in every rule is searched once per rule. */

private rule EXH_Files_Server_Page
{
    strings:
        $page = "<%@" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Files_Server_Code
{
    strings:
        $code = "<%" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

rule EXH_Webshell_File_Writer
{
    meta:
        id = "EXH-YARA-FILE-WRITER"
        title = "Page writes a file at a path named by the request (upload / write-anywhere shell)"
        description = "A server page saves an upload or writes text to a path taken from the request or a form control (SaveAs(Server.MapPath(Request[...])), new StreamWriter(Request.Form(\"path\")), new FileInfo(T1.Text).CreateText()), or saves uploads next to itself. Small upload shells do this to place further web shells; ordinary upload handlers write to a fixed folder under a name they choose."
        attack = "T1505.003,T1105"
        family = "file-writer"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        // the path argument of a write is (or is mapped from) a request value or a control value
        $w_req = /(SaveAs|StreamWriter|WriteAllBytes|WriteAllText|AppendAllText|CreateText|FileStream|FileInfo|File\.Create)\s{0,4}\(\s{0,4}((Server|HttpContext\.Current\.Server|context\.Server)\.MapPath\s{0,4}\(\s{0,4})?([A-Za-z_][A-Za-z0-9_]{0,20}\.){0,2}[Rr]equest(\.(Form|QueryString|Item|Params)\b|\[|\()/
        // the same in lower case (VB pages are case-insensitive and often written so)
        $w_req_lc = /(saveas|streamwriter|writeallbytes|writealltext|appendalltext|createtext|filestream|fileinfo|file\.create)\s{0,4}\(\s{0,4}(server\.mappath\s{0,4}\(\s{0,4})?request(\.(form|querystring|item|params)\b|\[|\()/
        $w_ctl = /(SaveAs|StreamWriter|WriteAllBytes|WriteAllText|AppendAllText|FileStream|FileInfo)\(\s{0,4}(this\.)?[A-Za-z_][A-Za-z0-9_]{0,40}\.(Text|Value)\s{0,4}[,)+]/
        // uploads stored in the page's own folder, where they can be requested and run
        $self1 = "Request.PhysicalPath" nocase
        $self2 = /MapPath\s{0,4}\(\s{0,4}["']\.\/?["']\s{0,4}\)/
        $upload1 = "Request.Files" nocase
        $upload2 = "PostedFile" nocase
        $sink1 = "FileMode.Create" nocase
        $sink2 = "SaveAs" nocase
    condition:
        EXH_Files_Server_Code and
        ($w_req or $w_req_lc or (EXH_Files_Server_Page and $w_ctl) or (EXH_Files_Server_Page and any of ($self*) and any of ($upload*) and any of ($sink*)))
}

rule EXH_Webshell_Page_Dropper
{
    meta:
        id = "EXH-YARA-PAGE-DROPPER"
        title = "Page or handler writes another server page (.aspx/.ashx/.asp) holding server code"
        description = "A server page or handler creates a file with a server-page extension in the site (MapPath(\"x.aspx\")) and writes server code or a server-side include into it: a dropper that plants the real web shell, or rewrites a page to include one."
        attack = "T1505.003,T1105"
        family = "dropper"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $target = /MapPath\s{0,4}\(\s{0,4}@?["'][^"'\r\n]{0,120}\.([Aa][Ss][Pp][Xx]?|[Aa][Ss][HhMm][Xx]|[Aa][Ss][Aa]|[Cc][Ee][Rr]|[Cc][Dd][Xx]|[Ss][Oo][Aa][Pp]|[Ss][Vv][Cc])["']\s{0,4}\)/
        $write = /(CreateText|StreamWriter|WriteAllText|AppendAllText|AppendText|WriteAllBytes|File\.Create)\s{0,4}\(/
        $body1 = "\"<%" ascii
        $body4 = "'<%" ascii
        $body2 = "#include file" nocase
        $body3 = "#include virtual" nocase
    condition:
        EXH_Files_Server_Page and $target and $write and any of ($body*)
}

rule EXH_Webshell_Writable_Probe
{
    meta:
        id = "EXH-YARA-WRITABLE-PROBE"
        title = "Page walks folders and test-writes a file in each (writable-folder scanner)"
        description = "A server page walks the folder tree (GetDirectories / DirectoryInfo) and in each folder creates and deletes a probe file to find where the web server account can write: reconnaissance for where to put the next web shell or tool. Legitimate pages have no reason to test every folder for write access."
        attack = "T1505.003,T1083"
        family = "recon"
        step = "webshell-write"
        severity = "medium"
        confidence = "medium"
    strings:
        $walk1 = "GetDirectories" nocase
        $walk2 = "new DirectoryInfo" nocase
        $probe_create = /File\.Create\s{0,4}\(\s{0,4}[A-Za-z_][A-Za-z0-9_.]{0,60}\s{0,4}\+\s{0,4}@?["'](\\\\)?[A-Za-z0-9_.~-]{1,24}["']\s{0,4}\)/
        $probe_delete = /File\.Delete\s{0,4}\(\s{0,4}[A-Za-z_][A-Za-z0-9_.]{0,60}\s{0,4}\+\s{0,4}@?["'](\\\\)?[A-Za-z0-9_.~-]{1,24}["']\s{0,4}\)/
        $can_write = ".CanWrite" ascii
    condition:
        EXH_Files_Server_Page and any of ($walk*) and $probe_create and ($probe_delete or $can_write)
}
