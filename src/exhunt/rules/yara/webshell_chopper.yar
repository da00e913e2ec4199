/*
  exhunt: China Chopper style one-line webshells (ASPX/ASP) and their obfuscated variants.
  Written for exhunt. Meta keys read by exhunt: id, title, attack, cve, family, step, severity,
  confidence. Samples: samples/<id>/positive-* and negative-* (the .sample suffix is stripped to
  give the file name the rule is scanned under).
*/

/* Shared markers as private rules: referenced by the rules below, never reported alone. Each is
   defined once per file, because a pattern repeated in every rule is searched once per rule. */

private rule EXH_Chopper_Server_Page
{
    strings:
        $page = "<%@" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Chopper_Server_Code
{
    strings:
        $code = "<%" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Chopper_Request_Value
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
        $js_eval = /eval\s{0,8}\(\s{0,8}([A-Za-z_][A-Za-z0-9_]{0,20}\.){0,2}Request(\.Item|\.Form|\.QueryString|\.Params)?\s{0,8}[\[\(]/ nocase
        $vb_exec = /Execute(Global)?(\s{1,8}|\s{0,8}\(\s{0,8})Request(\.Item|\.Form|\.QueryString)?\s{0,8}\(/ nocase
        $vb_eval = /Eval\s{0,8}(\(\s{0,8}|\s)Request\s{0,8}\(/ nocase
        $unsafe = /\]\s{0,8}\)?\s{0,8},\s{0,8}["']unsafe["']/ nocase
        $unsafe_arg = /,\s{0,8}\\?["']unsafe\\?["']\s{0,8}\\?\)/ nocase
        $eval_call = /eval\s{0,8}\(/ nocase
        $request = /Request(\.Item|\.Form|\.QueryString|\.Params)?\s{0,8}["'+\s]{0,8}[\[\(]/ nocase
    condition:
        $js_eval or $vb_exec or $vb_eval or ($unsafe and $eval_call) or ($unsafe_arg and $eval_call and $request)
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
        // 'unsafe' written as escapes: \x75\x6e\x73\x61\x66\x65 or \u0075\u006e...
        $hex_unsafe = /\\x75\\x6e\\x73/ nocase
        $uni_unsafe = /\\u0075\\u006e\\u0073/ nocase
        // code spelled one or two characters at a time: "e"+"v"+"a"+"l"... (straight or typographic quotes);
        // each string matches one piece between two joins, so a count of 3 means five or more pieces joined
        $sp1 = { 22 2B 22 [1-2] 22 2B 22 }
        $sp2 = { 27 2B 27 [1-2] 27 2B 27 }
        $sp3 = { 22 20 2B 20 22 [1-2] 22 20 2B 20 22 }
        $sp4 = { A1 B1 2B A1 B1 [1-2] A1 B1 2B A1 B1 }
        $sp5 = { E2 80 9D 2B E2 80 9C [1-2] E2 80 9D 2B E2 80 9C }
        // base64 of a request accessor ("Request.Item[", "Request.Form[", "Request[") decoded and evaluated
        $b64_request = /["'](UmVxdWVzdC5JdGVt|UmVxdWVzdC5Gb3Jt|UmVxdWVzdF|UmVxdWVzdC5RdWVyeVN0cmluZ)[A-Za-z0-9+\/=]{0,200}["']/
        $from_b64 = "FromBase64String" nocase
        $eval_call = /eval\s{0,32}\(/ nocase
    condition:
        $vb_chrw or
        (EXH_Chopper_Server_Page and ($split_unsafe or $split_key or $charcode or $b64_eval)) or
        (EXH_Chopper_Server_Code and $eval_call and
         (any of ($hex_unsafe, $uni_unsafe) or (#sp1 + #sp2 + #sp3 + #sp4 + #sp5 >= 3) or
          ($b64_request and $from_b64)))
}

rule EXH_Webshell_JScript_Eval
{
    meta:
        id = "EXH-YARA-JSCRIPT-EVAL"
        title = "JScript.NET server code evaluates a variable (eval of input, 'unsafe' mode)"
        description = "A page, handler or web service written in JScript.NET whose server code calls eval on a variable or a request value rather than a literal; with a second argument it runs with full trust ('unsafe'). Server-side eval of input is what Chopper-style one-liners and their handler/web-service variants do; ordinary pages do not evaluate code."
        attack = "T1505.003,T1059.007"
        family = "china-chopper"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        $lang_directive = /<%@\s{0,4}(Page|WebHandler|WebService|Control|Master|Application)\b[^>]{0,120}Language\s{0,4}=\s{0,4}["']?JScript/ nocase
        $lang_script1 = /<script[^>]{0,80}runat\s{0,4}=\s{0,4}["']?server[^>]{0,80}language\s{0,4}=\s{0,4}["']?JScript/ nocase
        $lang_script2 = /<script[^>]{0,80}language\s{0,4}=\s{0,4}["']?JScript[^>]{0,80}runat\s{0,4}=\s{0,4}["']?server/ nocase
        // eval( <identifier or member> , ...) or eval( <identifier> ) -- not a string literal
        $eval_var = /\beval\s{0,32}\((\s|\/\*[^\"']{0,20}\*\/){0,8}[A-Za-z_][A-Za-z0-9_.]{0,60}(\[[^\]\r\n]{1,40}\]|\([^()\r\n]{0,60}\))?(\s|\/\*[^\"']{0,20}\*\/){0,8}[,)]/
        // eval of code decoded from base64 (the code itself hidden)
        $eval_decoded = /\beval\s{0,32}\([^;]{0,160}FromBase64String\s{0,4}\(/
    condition:
        // the fallback for JScript shells the two Chopper rules above do not already name
        any of ($lang*) and ($eval_var or $eval_decoded) and not EXH_Webshell_Chopper_Eval and not EXH_Webshell_Chopper_Obfuscated
}

rule EXH_Webshell_Script_Control
{
    meta:
        id = "EXH-YARA-SCRIPT-CONTROL"
        title = "Server page hands request data to a script engine (MSScriptControl)"
        description = "A server page creates the Windows script engine (MSScriptControl.ScriptControl), gives it the Request object or request values and runs code with it (ExecuteStatement, AddCode, Eval, Run): evaluation of attacker code by another route than eval."
        attack = "T1505.003,T1059.005"
        family = "china-chopper"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $control = "MSScriptControl.ScriptControl" nocase
        $run = /\.(ExecuteStatement|AddCode|Eval|Run)\s{0,4}[\( ]/ nocase
        $add_req = /AddObject\s{0,4}\(?\s{0,4}["']Request["']/ nocase
    condition:
        EXH_Chopper_Server_Code and $control and $run and (EXH_Chopper_Request_Value or $add_req)
}
