/* exhunt: pages that reach data the web application has no business with: databases through a
   connection string the request supplies, and the registry browsed by request. Written for exhunt. */

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
        $cs_concat = /([Ss]erver|SERVER|[Dd]ata [Ss]ource|[Uu]ser [Ii][Dd]|[Pp]assword|PASSWORD|[Ii]nitial [Cc]atalog)\s{0,2}=\s{0,2}["']\s{0,2}\+/
        $cs_format = /([Pp]wd|PWD|[Pp]assword|PASSWORD)\s{0,4}=\s{0,4}\{[0-9]\}/
        $cs_input = /ConnectionString\s{0,4}=\s{0,4}[^;\r\n]{0,200}(Request\s{0,4}(\.\s{0,4}(Form|QueryString|Item|Params)\b|\[|\()|\.Text\b|\.Value\b)/ nocase
        $q_var = /(SqlCommand|OleDbCommand|MySqlCommand|OdbcCommand|SqlDataAdapter|OleDbDataAdapter|MySqlDataAdapter|OdbcDataAdapter)\s{0,4}\(\s{0,4}[A-Za-z_]/
        $q_cmdshell = "xp_cmdshell" nocase
        $q_oa = "sp_oacreate" nocase
        $q_concat = /["']\s{0,2}select \* from \s{0,2}["']\s{0,4}\+/ nocase
        // a dumper: credentials written into the page, the script timeout lifted, every row written out
        $dump_timeout = /ScriptTimeout\s{0,4}=\s{0,4}(2147483647|int\.MaxValue|Int32\.MaxValue)/
        $dump_cred = /([Pp]wd|PWD|[Pp]assword|PASSWORD)\s{0,4}=\s{0,4}[^;"'{}\r\n]{1,40};/
        $dump_select = "select * from" nocase
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        ($page or any of ($runat*)) and $db and
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
        $req = /Request\s{0,4}(\.\s{0,4}(Form|QueryString|Item|Params)\b|\[|\()/ nocase
        $ctl = /\.(Text|Value)\b/
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        ($page or any of ($runat*)) and $hive and $open and any of ($enum*) and ($req or $ctl)
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
        $page = "<%@" ascii
        $runat1 = "runat=\"server\"" nocase
        $runat2 = "runat=server" nocase
        $runat3 = "runat='server'" nocase
    condition:
        ($page or any of ($runat*)) and $adsi and $entry and any of ($secret*)
}
