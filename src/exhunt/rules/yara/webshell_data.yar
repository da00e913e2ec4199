/* exhunt: pages that reach data the web application has no business with: databases through a
   connection string the request supplies, and the registry browsed by request. Written for exhunt. */

/* Shared markers as private rules: referenced by the rules below, never reported alone. Each is
   defined once per file, because a pattern repeated in every rule is searched once per rule. */

private rule EXH_Data_Server_Page
{
    strings:
        $page = "<%@" ascii
        $script1 = "<script runat" nocase
        $script2 = /<script [^>]{0,80}runat=/
    condition:
        any of them
}

private rule EXH_Data_Request_Value
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

private rule EXH_Data_Control_Value
{
    strings:
        $value = /\.(Text|Value)\b/
    condition:
        $value
}

rule EXH_Webshell_Sql_Client
{
    meta:
        id = "EXH-YARA-SQL-CLIENT"
        title = "Page runs SQL on a server and credentials supplied by the request, or dumps tables wholesale"
        description = "A server page builds a database connection string from request or form values (server, user, password) and runs SQL text that is also variable: a SQL client in a web page; or, with credentials written into the page and the script timeout lifted, dumps whole tables (a database dumper). Applications read their connection strings from configuration; they do not take a server and password from the request."
        attack = "T1505.003,T1213"
        family = "sql-client"
        step = "webshell-write"
        severity = "medium"
        confidence = "medium"
    strings:
        $db = /(Sql|OleDb|MySql|Odbc|Oracle|Npgsql)Connection\b/
        // "server=" + x, "Data Source=" + x, "User ID=" + x, "Password=" + x (a value joined into the string)
        $cs_concat1 = { (53|73) 65 72 76 65 72 3D 22 [0-1] 2B }
        $cs_concat2 = { 53 6F 75 72 63 65 3D 22 [0-1] 2B }
        $cs_concat3 = { 73 6F 75 72 63 65 3D 22 [0-1] 2B }
        $cs_concat4 = { 20 (49|69) (44|64) 3D 22 [0-1] 2B }
        $cs_concat5 = { (50|70) 61 73 73 77 6F 72 64 3D 22 [0-1] 2B }
        $cs_concat6 = { (50|70) (57|77) (44|64) 3D 22 [0-1] 2B }
        $cs_format = /([Pp]wd|PWD|[Pp]assword|PASSWORD)\s{0,4}=\s{0,4}\{[0-9]\}/
        $cs_input = /ConnectionString\s{0,4}=\s{0,4}[^;\r\n]{0,200}([Rr]equest(\.(Form|QueryString|Item|Params)\b|\[|\()|\.Text\b|\.Value\b)/
        $q_var = /(SqlCommand|OleDbCommand|MySqlCommand|OdbcCommand|SqlDataAdapter|OleDbDataAdapter|MySqlDataAdapter|OdbcDataAdapter)\s{0,4}\(\s{0,4}[A-Za-z_]/
        $q_cmdshell = "xp_cmdshell" nocase
        $q_oa = "sp_oacreate" nocase
        $q_concat = /["']\s{0,2}select \* from \s{0,2}["']\s{0,4}\+/ nocase
        // a dumper: credentials written into the page, the script timeout lifted, every row written out
        $dump_timeout = /ScriptTimeout\s{0,4}=\s{0,4}(2147483647|int\.MaxValue|Int32\.MaxValue)/
        $dump_cred = /([Pp]wd|PWD|[Pp]assword|PASSWORD)\s{0,4}=\s{0,4}[^;"'{}\r\n]{1,40};/
        $dump_select = "select * from" nocase
    condition:
        EXH_Data_Server_Page and $db and
        ((any of ($cs_*) and any of ($q_*)) or ($dump_timeout and $dump_cred and $dump_select))
}

rule EXH_Webshell_Registry_Browser
{
    meta:
        id = "EXH-YARA-REGISTRY-BROWSER"
        title = "Page browses the server's registry at a key named by the request"
        description = "A server page opens registry hives (HKLM, HKCU, HKCR, HKU) at a key taken from the request or a form control and lists its subkeys and values: a registry browser, as carried by web shell toolkits to read configuration, services and credentials."
        attack = "T1505.003,T1012"
        family = "recon"
        step = "webshell-write"
        severity = "medium"
        confidence = "medium"
    strings:
        $hive = /Registry\s{0,4}\.\s{0,4}(LocalMachine|ClassesRoot|CurrentUser|Users|CurrentConfig)\b/
        $open = "OpenSubKey" ascii
        $enum1 = "GetSubKeyNames" ascii
        $enum2 = "GetValueNames" ascii
    condition:
        EXH_Data_Server_Page and $hive and $open and any of ($enum*) and (EXH_Data_Request_Value or EXH_Data_Control_Value)
}

rule EXH_Webshell_IIS_Spy
{
    meta:
        id = "EXH-YARA-IIS-SPY"
        title = "Page reads IIS site settings and account passwords from the metabase (IIS spy)"
        description = "A server page opens the IIS configuration through ADSI (IIS://localhost/W3SVC) and reads the anonymous-user or application-pool passwords and the sites' paths: reconnaissance and credential theft carried by web shell toolkits. Web applications do not read other sites' credentials."
        attack = "T1505.003,T1552.001"
        family = "recon"
        step = "webshell-write"
        severity = "high"
        confidence = "medium"
    strings:
        $adsi = /IIS:\/\/localhost\/W3SVC/ nocase
        $entry = "DirectoryEntry" ascii
        $secret1 = "AnonymousUserPass" nocase
        $secret2 = "WAMUserPass" nocase
        $secret3 = "AppPoolIdentity" nocase
    condition:
        EXH_Data_Server_Page and $adsi and $entry and any of ($secret*)
}
