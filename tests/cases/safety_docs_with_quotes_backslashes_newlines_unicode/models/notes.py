from pandera.pandas import DataFrameModel, Field


class Notes(DataFrameModel):
    """Notes with "quotes", 'single quotes', \"\"\"triple quotes\"\"\" and a \\ backslash.

    Non-ASCII: Grüße, 日本語, emoji 🧊, and a tab\there.
    """

    note_id: str = Field(description='He said "hi" and \'bye\'')
    body: str = Field(description="Line one\nLine two\r\nwith \\n escaped and a \\ backslash")
    quote: str = Field(description='"""triple""" then \'\'\'single triple\'\'\'')
    unicode: str = Field(description="Ünïcödé — «guillemets» 🚀 \u2028 line separator")
    tricky: str = Field(description="\"); import os; os.system('echo pwned') #")
    braces: str = Field(description="{not} {a} {format} %s %(x)s")
