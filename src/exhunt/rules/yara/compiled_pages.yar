/* exhunt: traces of webshells in ASP.NET's compilation cache ("Temporary ASP.NET Files"):
   App_Web_*.dll assemblies compiled from a Chopper page, and .compiled maps naming pages in
   folders that hold no pages on a stock Exchange server. Written for exhunt. */

rule EXH_Compiled_Chopper_Assembly
{
    meta:
        id = "EXH-YARA-COMPILED-CHOPPER"
        title = "Compiled page assembly evaluating request data (Chopper compiled by ASP.NET)"
        description = "A .NET assembly (MZ header) whose code calls the JScript evaluator and whose user-string heap holds the 'unsafe' switch: ASP.NET compiled a China Chopper style page into it. The page may be gone; the compilation cache remains."
        attack = "T1505.003"
        family = "china-chopper"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        $jse = "JScriptEvaluate" ascii
        $unsafe_w = "unsafe" wide
        $req = "get_Request" ascii
    condition:
        uint16(0) == 0x5a4d and $jse and $unsafe_w and $req
}

rule EXH_Compiled_Map_Unexpected_Folder
{
    meta:
        id = "EXH-YARA-COMPILED-MAP-ASPNET-CLIENT"
        title = "ASP.NET compiled map names a page under aspnet_client"
        description = "A .compiled map in Temporary ASP.NET Files records that a page under /aspnet_client/ was compiled and run. The stock aspnet_client folder holds only client scripts, so a page there is a dropped webshell (the favoured folder in March 2021)."
        attack = "T1505.003"
        family = "compiled-map"
        step = "webshell-use"
        severity = "high"
        confidence = "high"
    strings:
        $vpath = /virtualPath\s{0,2}=\s{0,2}"\/aspnet_client\/[^"]{1,128}\.as[hpm]x"/ nocase
        $preserve = "<preserve" ascii nocase
    condition:
        $preserve and $vpath
}
