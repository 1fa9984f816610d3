headprune train --task lm --train data/bible/train.txt,data/finefoods/train.tsv --eval data/bible/valid.txt
  --tokenizer models/tokenizer-en --heads 8 --max-pos 512 --untied --dropout 0.1 --max-len 256
  --batch 64 --lr 1e-3 --warmup 0.05 --weight-decay 0.1 --schedule cosine --seed 1 --bf16
  --save-dtype bf16 --save-every 1000 --device cuda --quiet --json --epochs 7 --arch llama --layers 3 --d-model 256 --d-ff 768 --out models/vanilla-L3
