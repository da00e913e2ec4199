/* exhunt: ASPX pages that decode or decrypt a request body and load it as a .NET assembly
   (the Godzilla and Behinder memory-loader shape). Written for exhunt. */

/* Shared markers as private rules: referenced by the rules below, never reported alone. Each is
   defined once per file, because a pattern repeated in every rule is searched once per rule. */

private rule EXH_Loaders_Server_Page
{
    strings:
        $page = "<%@" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Loaders_Request_Value
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

rule EXH_Webshell_Assembly_Loader
{
    meta:
        id = "EXH-YARA-ASSEMBLY-LOADER"
        title = "ASPX loader: request data (decoded, decrypted or raw) loaded with Assembly.Load and run"
        description = "A server page reads the request (body, form or item), decrypts it (AES/Rijndael TransformFinalBlock) or base64-decodes it, loads the result as an assembly and instantiates a type from it. This is how Godzilla and Behinder style webshells run their payloads in memory."
        attack = "T1505.003,T1620"
        family = "assembly-loader"
        step = "webshell-write"
        severity = "high"
        confidence = "high"
    strings:
        $load1 = /Assembly\s{0,4}\.\s{0,4}Load\s{0,4}\(/ nocase
        $load2 = /GetMethod\s{0,4}\(\s{0,4}"Load"/ nocase
        $instance = "CreateInstance" nocase
        $run1 = /\.\s{0,4}Invoke\s{0,4}\(/
        $run2 = /\.\s{0,4}Equals\s{0,4}\(\s{0,4}(this|Context|HttpContext)/
        $dec_b64 = "FromBase64String" nocase
        $dec_aes1 = "CreateDecryptor" nocase
        $dec_aes2 = "TransformFinalBlock" nocase
        $in_body1 = "Request.BinaryRead" nocase
        $in_body2 = "Request.InputStream" nocase
        $in_item1 = "Request[" nocase
        $in_item2 = "Request.Form[" nocase
        $in_item3 = "Request.Item[" nocase
        $in_item4 = "Request.Params[" nocase
        $in_webmethod = "[WebMethod" ascii
        // the request body or a request value loaded as an assembly directly
        $load_req = /Assembly\.Load\s{0,4}\(\s{0,4}([A-Za-z_][A-Za-z0-9_]{0,20}\.){0,2}Request(\.(BinaryRead|InputStream|Form|Item|Params|QueryString)\b|\[|\()/
    condition:
        EXH_Loaders_Server_Page and
        ($load_req or
         (any of ($load*) and any of ($in_*) and (any of ($dec_aes*) or ($dec_b64 and $instance))) or
         (any of ($load*) and any of ($in_body*) and ($instance or any of ($run*))))
}

rule EXH_Webshell_Code_Compiler
{
    meta:
        id = "EXH-YARA-CODE-COMPILER"
        title = "Page compiles and runs source code taken from the request (CodeDom / XSLT script)"
        description = "A server page compiles code at run time from request input (CSharpCodeProvider / CodeDomProvider CompileAssemblyFromSource) and runs it, or transforms with an XSLT stylesheet that embeds script (msxsl:script) fed from the page or the request. Both run arbitrary .NET code in the web server; applications ship compiled code instead."
        attack = "T1505.003,T1127,T1059"
        family = "code-compiler"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        $compile1 = "CompileAssemblyFromSource" nocase
        $compile2 = /(CSharp|VB|JScript)CodeProvider\b/
        $compile3 = /CodeDomProvider\s{0,4}\.\s{0,4}CreateProvider/
        $run1 = "CompiledAssembly" ascii
        $run2 = "CreateInstance" ascii
        $run3 = /\.\s{0,4}Invoke\s{0,4}\(/
        $xsl_script = "msxsl:script" nocase
        $xsl_run1 = /Xsl(Compiled)?Transform\b/
        $xsl_run2 = "EnableScript" ascii
    condition:
        EXH_Loaders_Server_Page and
        ((any of ($compile*) and any of ($run*) and EXH_Loaders_Request_Value) or ($xsl_script and any of ($xsl_run*)))
}
