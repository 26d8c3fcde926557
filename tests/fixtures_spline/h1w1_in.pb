BinputJ
¶>LD+>"‡÷>