"""The parent and student web portal: server-rendered pages on the API's sessions, policies and reads."""
