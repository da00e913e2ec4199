<%@ Page Language="C#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.logon" %>
<%-- exhunt example evidence (synthetic placeholder, not Microsoft's file) --%>
<!DOCTYPE html>
<html><head><title>Outlook</title></head><body></body></html>
