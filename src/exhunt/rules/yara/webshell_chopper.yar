/*
  exhunt: China Chopper style one-line webshells (ASPX/ASP) and their obfuscated variants.
  Written for exhunt. Meta keys read by exhunt: id, title, attack, cve, family, step, severity,
  confidence. Samples: samples/<id>/positive-* and negative-* (the .sample suffix is stripped to
  give the file name the rule is scanned under).
*/

rule EXH_Webshell_Chopper_Eval
{
    meta:
        id = "EXH-YARA-CHOPPER-EVAL"
        title = "China Chopper style one-liner: eval/Execute of a request value"
        description = "A server page that evaluates a value taken straight from the HTTP request (JScript eval with the 'unsafe' switch, VBScript Execute/Eval of Request). This is the shape of the China Chopper pages dropped after ProxyLogon."
        attack = "T1505.003"
        family = "china-chopper"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $js_eval = /eval\s{0,8}\(\s{0,8}Request(\.Item|\.Form|\.QueryString)?\s{0,8}[\[\(]/ nocase
        $vb_exec = /Execute(Global)?(\s{1,8}|\s{0,8}\(\s{0,8})Request(\.Item|\.Form|\.QueryString)?\s{0,8}\(/ nocase
        $vb_eval = /Eval\s{0,8}\(\s{0,8}Request\s{0,8}\(/ nocase
        $unsafe = /\]\s{0,8}\)?\s{0,8},\s{0,8}["']unsafe["']/ nocase
        $eval_call = /eval\s{0,8}\(/ nocase
    condition:
        $js_eval or $vb_exec or $vb_eval or ($unsafe and $eval_call)
}

rule EXH_Webshell_Chopper_Obfuscated
{
    meta:
        id = "EXH-YARA-CHOPPER-OBFUSCATED"
        title = "Obfuscated China Chopper variant: split 'unsafe', char codes or base64 fed to eval"
        description = "A server page that hides the Chopper pattern: the 'unsafe' switch or the request key built by string concatenation, code built from character codes, or a base64-decoded request value passed to eval/Execute."
        attack = "T1505.003,T1027"
        family = "china-chopper"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        $split_unsafe = /["']\s{0,8}\+\s{0,8}["'](nsafe|safe|afe)["']/ nocase
        $split_key = /eval\s{0,8}\(\s{0,8}Request(\.Item|\.Form)?\s{0,8}\[\s{0,8}["'][^"'\]]{0,16}["']\s{0,8}\+/ nocase
        $charcode = /eval\s{0,8}\(\s{0,8}String\.fromCharCode\s{0,8}\(/ nocase
        $vb_chrw = /Execute\s{0,8}\(?\s{0,8}ChrW?\s{0,8}\(\s{0,8}[0-9]{2,3}\s{0,8}\)\s{0,8}&\s{0,8}ChrW?\s{0,8}\(/ nocase
        $b64_eval = /eval\s{0,8}\(\s{0,8}(System\.)?Text\.Encoding\.[A-Za-z0-9]{2,16}\.GetString\s{0,8}\(\s{0,8}(System\.)?Convert\.FromBase64String\s{0,8}\(\s{0,8}Request/ nocase
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        $vb_chrw or (($page or any of ($runat*)) and ($split_unsafe or $split_key or $charcode or $b64_eval))
}
