/* exhunt: ASPX pages that decode or decrypt a request body and load it as a .NET assembly
   (the Godzilla and Behinder memory-loader shape). Written for exhunt. */

rule EXH_Webshell_Assembly_Loader
{
    meta:
        id = "EXH-YARA-ASSEMBLY-LOADER"
        title = "ASPX loader: request data decoded or decrypted and loaded with Assembly.Load"
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
        $dec_b64 = "FromBase64String" nocase
        $dec_aes1 = "CreateDecryptor" nocase
        $dec_aes2 = "TransformFinalBlock" nocase
        $in_body1 = "Request.BinaryRead" nocase
        $in_body2 = "Request.InputStream" nocase
        $in_item1 = "Request[" nocase
        $in_item2 = "Request.Form[" nocase
        $in_item3 = "Request.Item[" nocase
        $in_item4 = "Request.Params[" nocase
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        ($page or any of ($runat*)) and any of ($load*) and any of ($in_*) and
        (any of ($dec_aes*) or ($dec_b64 and $instance))
}
